"""The scaled topology through its one public nginx port (tools/scaled.py).

Two Rasa servers, two action servers and two backend processes behind nginx,
PostgreSQL for trackers and the backend: a conversation's turns are served by
both Rasa replicas and stored once, in order; socket.io and WeChat reach the
replicas through the same port; a verified inquiry's steps run on both action
servers.
"""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any, Dict, List, Set, Tuple

import aiohttp
import pytest
import requests

from tests.support.fake_wechat import FakeWeChatApi, WeChatCallbacks, new_openid
from tests.support.ids import sender_id
from tests.support.scaled import (
    access_log,
    latest_code_any,
    stored_events,
)
from tests.support.socketio_client import Client
from tests.support.stack import register_resident
from tools.scaled import ScaledStack

pytestmark = pytest.mark.scaled
GUIDANCE = ["我想自己交医保，怎么办？", "城镇户口", "要带什么材料", "去哪里办"]


def rest_turn(stack: ScaledStack, sender: str, text: str) -> Tuple[List[Dict], str]:
    """One REST turn through nginx: the replies and the replica that answered."""
    response = requests.post(
        f"{stack.public_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json(), response.headers["X-Upstream"]


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def replica_addresses(stack: ScaledStack, kind: str) -> Set[str]:
    return {stack.direct_url(s).split("://")[1] for s in stack.replicas(kind)}


def turns_of(events: List[Dict[str, Any]]) -> List[Tuple[str, List[str]]]:
    """(user text, the bot texts that followed it) for every stored user event."""
    turns: List[Tuple[str, List[str]]] = []
    for event in events:
        if event["event"] == "user":
            turns.append((event["text"], []))
        elif event["event"] == "bot" and event.get("text"):
            assert turns, f"a bot message before any user message: {event}"
            turns[-1][1].append(event["text"])
    return turns


def test_a_conversation_alternates_replicas_and_is_stored_once_in_order(
    scaled: ScaledStack,
) -> None:
    sender = sender_id("scaled")
    answered, upstreams = [], []
    for text in GUIDANCE:
        replies, upstream = rest_turn(scaled, sender, text)
        answered.append([r["text"] for r in replies if r.get("text")])
        upstreams.append(upstream)
    assert "城镇" in texts([{"text": t} for t in answered[0]])
    assert "身份证" in "\n".join(answered[1])  # the urban path, from the other replica
    # round-robin over one worker: each turn went to the other replica
    assert set(upstreams) == replica_addresses(scaled, "rasa")
    assert all(a != b for a, b in zip(upstreams, upstreams[1:], strict=False)), (
        upstreams
    )
    # exactly the sent and answered turns, in order, in PostgreSQL
    assert turns_of(stored_events(scaled, f"rest:{sender}")) == list(
        zip(GUIDANCE, answered, strict=True)
    )


def test_socketio_through_nginx_continues_a_session_on_the_other_replica(
    scaled: ScaledStack,
) -> None:
    async def conversation() -> Tuple[str, List[str], List[str]]:
        replies, upstreams = [], []
        session_id = None
        for text in GUIDANCE[:2]:
            client = await Client().connect(scaled.public_url, origin=scaled.public_url)
            try:
                upstreams.append(client.ws.response_headers["X-Upstream"])
                session_id = await client.session(session_id)
                await client.say({"message": text})
                replies.append((await client.reply(60)).get("text") or "")
            finally:
                await client.close()
        assert session_id is not None
        return session_id, replies, upstreams

    session_id, replies, upstreams = asyncio.run(conversation())
    assert upstreams[0] != upstreams[1]  # two WebSockets, two replicas
    assert set(upstreams) <= replica_addresses(scaled, "rasa")
    assert "城镇" in replies[0] and "身份证" in replies[1]
    users = [
        e["text"]
        for e in stored_events(scaled, f"web:{session_id}")
        if e["event"] == "user"
    ]
    assert users == GUIDANCE[:2]


def test_socketio_long_polling_is_refused_with_a_stable_code(
    scaled: ScaledStack,
) -> None:
    """Polling requests of one session would land on different replicas."""
    response = requests.get(
        f"{scaled.public_url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "websocket_only"


async def test_wechat_callback_through_nginx(
    scaled: ScaledStack, wechat_api: FakeWeChatApi
) -> None:
    from tests.support.wechat_app import AES_KEY, APP_ID, TOKEN

    wechat = WeChatCallbacks(
        f"{scaled.public_url}/webhooks/wechat/webhook", TOKEN, APP_ID, AES_KEY
    )
    openid = new_openid()
    async with aiohttp.ClientSession() as http:
        reply = await wechat.post(
            http, wechat.text(openid, GUIDANCE[0]), encrypt=True, timeout=60
        )
    assert reply.status == 200, reply.body
    if reply.is_success:  # over the 4.5 s budget: sent through the API instead
        messages = await asyncio.to_thread(wechat_api.wait_for_messages, openid, 1, 60)
        content = "\n\n".join(m["text"]["content"] for m in messages)
    else:
        assert "<Encrypt>" in reply.body
        content = reply.content
    assert content.endswith("回复数字选择：\n1. 城镇户口\n2. 农业户口"), content
    events = stored_events(scaled, f"wechat:{openid}")
    assert [e["text"] for e in events if e["event"] == "user"] == [GUIDANCE[0]]


def test_only_the_channels_and_the_widget_are_published(scaled: ScaledStack) -> None:
    public = scaled.public_url
    assert requests.get(f"{public}/nginx-health", timeout=10).text == "ok\n"
    page = requests.get(f"{public}/", timeout=10)
    assert page.status_code == 200 and "shebao-widget" in page.text
    for path in ("/webhooks/ops/metrics", "/webhooks/ops/ready"):
        response = requests.get(public + path, timeout=10)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    # Rasa's HTTP API is off on every replica, and not routed to Rasa anyway
    assert requests.get(
        f"{public}/conversations/x/tracker", timeout=10
    ).status_code in (
        403,
        404,
    )


def test_the_access_log_has_no_query_strings(scaled: ScaledStack) -> None:
    """The dev outbox is asked with ?id_number=..., WeChat signs in the query."""
    requests.get(
        f"{scaled.public_url}/webhooks/wechat/webhook",
        params={"signature": "leak-check", "echostr": "x"},
        timeout=10,
    )
    lines = access_log(scaled)
    assert lines and not [line for line in lines if "?" in line or "leak-check" in line]


def test_verified_inquiry_whose_steps_run_on_both_action_servers(
    scaled: ScaledStack,
) -> None:
    id_number = register_resident(scaled)  # through nginx to a backend process
    sender = sender_id("verify")
    log_mark = len(access_log(scaled))
    reply, _ = rest_turn(scaled, sender, "which months of 2025 have I paid?")
    assert "18-digit resident ID number" in texts(reply)
    reply, _ = rest_turn(scaled, sender, id_number)
    assert "137****5678" in texts(reply) and "6-digit" in texts(reply)
    reply, _ = rest_turn(scaled, sender, latest_code_any(scaled, id_number))
    actions_port = str(scaled.template_values["actions_listen_port"])
    action_calls = [
        line
        for line in access_log(scaled)[log_mark:]
        if f"listener={actions_port} " in line
    ]
    served_by = {line.split("upstream=")[1].split()[0] for line in action_calls}
    assert served_by == replica_addresses(scaled, "actions"), action_calls
    answer = texts(reply)
    events = stored_events(scaled, f"rest:{sender}")
    assert "January–June 2025 (6 months)" in answer, answer
    assert "Owed: 6 months (July–December 2025), ¥2,100.00" in answer
    stored = json.dumps(events, ensure_ascii=False)
    assert id_number not in stored and "13712345678" not in stored


def test_a_client_cannot_choose_the_address_rasa_sees(scaled: ScaledStack) -> None:
    """Attack: a forged X-Real-IP / X-Forwarded-For to dodge the per-client code
    limits. nginx overwrites both with the real peer, which Rasa (behind nginx,
    SANIC_REAL_IP_HEADER) turns into the client fingerprint the backend counts."""
    from bot.channels.metadata import client_fingerprint
    from bot.channels.settings import DEV_SESSION_SECRET
    from common.redaction import redact_text

    sender = sender_id("forged")
    port = int(scaled.public_url.rsplit(":", 1)[1])
    for forged in ("203.0.113.7", "198.51.100.9"):
        # from 127.0.0.2: not nginx's own address, so the fingerprint shows
        # whose address Rasa took
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=60, source_address=("127.0.0.2", 0)
        )
        try:
            connection.request(
                "POST",
                "/webhooks/rest/webhook",
                body=json.dumps({"sender": sender, "message": "hello"}),
                headers={
                    "Content-Type": "application/json",
                    "X-Real-IP": forged,
                    "X-Forwarded-For": forged,
                    "Forwarded": f"for={forged}",
                },
            )
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    clients = {
        (e.get("metadata") or {}).get("client")
        for e in stored_events(scaled, f"rest:{sender}")
        if e["event"] == "user"
    }
    # stored as the tracker store stores everything: masked
    expected = redact_text(client_fingerprint("127.0.0.2", DEV_SESSION_SECRET) or "")
    assert clients == {expected}
