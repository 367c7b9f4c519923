"""Attacks on the running assistant: each test tries one and shows it fail.

The stack is the real one (backend, action server, Rasa with its channels),
started once per test session on free ports; the demo resident's records are
the target.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import websockets

from backend.demo import DEMO_ID_NUMBER
from tests.security.conftest import joined, rest
from tests.support.ids import sender_id
from tests.support.socketio_client import Client
from tests.support.stack import latest_code, register_resident
from tools.devstack import REPO_ROOT, Stack, build_stack
from tools.settings import StackSettings

pytestmark = pytest.mark.stack
RECORDS_QUESTION = "which months of 2025 have I paid?"
RECORDS_FOLLOW_UP = "how much do I owe?"
# What only a verified answer shows (the demo resident paid 2025-01..06).
RECORDS_MARK = "Months paid"


def verify_over_rest(stack: Stack, sender: str) -> str:
    """A full verified inquiry as REST ``sender`` (a resident of its own); the records answer."""
    id_number = register_resident(stack)
    rest(stack, sender, RECORDS_QUESTION)
    rest(stack, sender, id_number)
    return joined(rest(stack, sender, latest_code(stack, id_number)))


def victim_action_call(sender_id: str) -> dict:
    """What Rasa would post to run ``action_fetch_contributions`` for ``sender_id``."""
    return {
        "next_action": "action_fetch_contributions",
        "sender_id": sender_id,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender_id,
            "slots": {"inquiry_year": "2025"},
            "latest_message": {"text": "", "intent": {}, "entities": []},
            "events": [],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


# ---- 1. the action server --------------------------------------------------------
def test_action_server_refuses_unsigned_webhook(stack: Stack) -> None:
    victim = sender_id("victim", 8)
    assert RECORDS_MARK in verify_over_rest(stack, victim)
    for headers in ({}, {"X-Shebao-Action-Token": "guess"}):
        response = requests.post(
            f"{stack.actions_url}/webhook",
            json=victim_action_call(f"rest:{victim}"),
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 401
        assert "2025-01" not in response.text and "paid_months" not in response.text
    # the health check stays open for probes
    assert requests.get(f"{stack.actions_url}/health", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"{x",
        b"[]",
        b'{"next_action": "action_fetch_contributions"}',
        b'{"next_action": "a", "tracker": "x"}',
    ],
)
def test_action_server_answers_malformed_calls_with_400(
    stack: Stack, body: bytes
) -> None:
    response = requests.post(
        f"{stack.actions_url}/webhook",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Shebao-Action-Token": stack.env["SHEBAO_ACTIONS_TOKEN"],
        },
        timeout=10,
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("header", ["X-Shebao-Action-Token"])
def test_non_utf8_secret_headers_get_401_not_500(stack: Stack, header: str) -> None:
    response = requests.post(
        f"{stack.actions_url}/webhook",
        data=b"{}",
        headers={header.encode(): b"\xff\xe9"},
        timeout=10,
    )
    assert response.status_code == 401


def test_non_utf8_bearer_tokens_get_4xx_from_the_backend(stack: Stack) -> None:
    for path, method in (
        ("/api/v1/me/contributions", "GET"),
        ("/api/v1/persons", "POST"),
    ):
        response = requests.request(
            method,
            f"{stack.backend_url}{path}",
            data=b"{}",
            headers={b"Authorization": b"Bearer \xe9\xe9"},
            timeout=10,
        )
        assert 400 <= response.status_code < 500, (path, response.status_code)
    response = requests.post(
        f"{stack.backend_url}/api/v1/verification/start",
        json={"id_number": DEMO_ID_NUMBER},
        headers={b"X-Shebao-Client-Secret": b"\xff"},
        timeout=10,
    )
    assert response.status_code < 500


def listening_addresses(port: int) -> set:
    """Local addresses with a listening TCP socket on ``port`` (from /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def test_action_server_is_not_bound_to_every_interface(stack: Stack) -> None:
    addresses = listening_addresses(stack.settings.actions_port)
    assert addresses, "the action server should be listening"
    assert addresses <= {"0100007F"}, addresses  # 127.0.0.1 only, never 0.0.0.0


# ---- 2. verification bound to the channel and a server-side session ------------
def test_rest_sender_cannot_reuse_another_rest_senders_verification_by_prefix(
    stack: Stack,
) -> None:
    victim = sender_id("victim", 8)
    assert RECORDS_MARK in verify_over_rest(stack, victim)
    for forged in (f"rest:{victim}", f"web:{victim}", f"wechat:{victim}"):
        answer = joined(rest(stack, forged, RECORDS_FOLLOW_UP))
        assert RECORDS_MARK not in answer and "ID number" in answer


def rest_from(stack: Stack, source: str, sender: str, text: str) -> str:
    """One REST turn sent from the local address ``source`` (another client)."""
    url = urlsplit(stack.rasa_url)
    connection = http.client.HTTPConnection(
        url.hostname or "127.0.0.1", url.port, timeout=30, source_address=(source, 0)
    )
    try:
        body = json.dumps({"sender": sender, "message": text})
        connection.request(
            "POST", "/webhooks/rest/webhook", body, {"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        assert response.status == 200
        return joined(json.loads(response.read()))
    finally:
        connection.close()


def test_a_verification_does_not_follow_the_sender_id_to_another_client(
    stack: Stack,
) -> None:
    victim = sender_id("victim", 8)
    assert RECORDS_MARK in verify_over_rest(stack, victim)  # from 127.0.0.1
    answer = rest_from(stack, "127.0.0.2", victim, RECORDS_FOLLOW_UP)
    assert RECORDS_MARK not in answer and "ID number" in answer


def test_odd_sender_ids_are_refused_and_the_server_lives_on(stack: Stack) -> None:
    for sender in ("a\ud800", "a\u0000b", "has space", "x" * 129):
        response = requests.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": "hi"}),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert (
            response.status_code == 400
            and response.json()["reason"] == "invalid_sender"
        )
    assert "Hello" in joined(rest(stack, sender_id("after", 6), "hello"))


async def turn(client: Client, message: str) -> str:
    """Send one message; every bot message of that turn (until 2 s of quiet)."""
    await client.say({"message": message})
    replies = [await client.reply(30)]
    while True:
        try:
            replies.append(await client.reply(2))
        except asyncio.TimeoutError:
            return json.dumps(replies, ensure_ascii=False)


async def verify_over_socketio(stack: Stack) -> tuple:
    """A verified inquiry in a web (socket.io) session: (session id, records answer)."""
    client = await Client().connect(stack.rasa_url)
    try:
        id_number = register_resident(stack)
        session_id = await client.session(None)
        await turn(client, RECORDS_QUESTION)
        await turn(client, id_number)
        answer = await turn(client, latest_code(stack, id_number))
        return session_id, answer
    finally:
        await client.close()


def test_rest_sender_cannot_read_a_web_users_records(stack: Stack) -> None:
    session_id, answer = asyncio.run(verify_over_socketio(stack))
    assert RECORDS_MARK in answer  # the web resident did get their records
    for forged in (session_id, f"web:{session_id}"):
        answer = joined(rest(stack, forged, RECORDS_FOLLOW_UP))
        assert RECORDS_MARK not in answer


def test_socketio_client_cannot_choose_its_session_id(stack: Stack) -> None:
    async def attempt() -> str:
        client = await Client().connect(stack.rasa_url)
        try:
            return await client.session("me-victim-session-0001")
        finally:
            await client.close()

    assert asyncio.run(attempt()) != "me-victim-session-0001"


def test_socketio_message_cannot_speak_for_another_session(stack: Stack) -> None:
    """The session id in a message body is ignored: a socket speaks for its own."""

    async def attempt() -> tuple:
        victim, attacker = (
            await Client().connect(stack.rasa_url),
            await Client().connect(stack.rasa_url),
        )
        try:
            victim_session = await victim.session(None)
            await attacker.session(None)
            await attacker.say({"message": "hello", "session_id": victim_session})
            reply = await attacker.reply(30)
            await asyncio.sleep(1)
            return reply, victim.no_reply_waiting
        finally:
            await victim.close()
            await attacker.close()

    reply, victim_got_nothing = asyncio.run(attempt())
    assert reply and victim_got_nothing


def test_session_request_without_payload_gets_a_session(stack: Stack) -> None:
    async def attempt() -> str:
        client = await Client().connect(stack.rasa_url)
        try:
            await client.ws.send('42["session_request"]')
            return await asyncio.wait_for(client.events["session_confirm"].get(), 10)
        finally:
            await client.close()

    assert len(asyncio.run(attempt())) == 64


def test_socketio_refuses_a_foreign_origin(stack: Stack) -> None:
    async def attempt() -> None:
        await Client().connect(stack.rasa_url, origin="https://evil.example")

    # engine.io answers the handshake of a disallowed origin with 400
    with pytest.raises(websockets.exceptions.InvalidStatusCode):
        asyncio.run(attempt())


def test_http_cors_refuses_a_foreign_origin(stack: Stack) -> None:
    response = requests.options(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
        },
        timeout=10,
    )
    assert response.headers.get("Access-Control-Allow-Origin") != "https://evil.example"


# ---- 14. secrets on the command line ---------------------------------------------
def test_rasa_api_token_is_not_on_the_command_line_by_default(tmp_path: Path) -> None:
    stack = build_stack(
        StackSettings(tmp_path, "127.0.0.1", 1, 2, 3, 4, tmp_path / "models"),
        with_web=False,
    )
    for service in stack.services:
        assert stack.env["RASA_AUTH_TOKEN"] not in service.command
        assert stack.env["SHEBAO_ACTIONS_TOKEN"] not in service.command
    assert "--enable-api" not in stack.service("rasa").command


# ---- 7. the backend stays on loopback ---------------------------------------------
def test_backend_stays_on_loopback_when_the_chat_is_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BACKEND_HOST", raising=False)
    stack = build_stack(
        StackSettings(tmp_path, "0.0.0.0", 1, 2, 3, 4, tmp_path / "models"),
        with_web=False,
    )
    assert stack.env["BACKEND_HOST"] == "127.0.0.1"
    assert stack.env["SHEBAO_BACKEND_URL"].startswith("http://127.0.0.1:")


# ---- production profile: every service refuses development secrets ----------------
def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


PRODUCTION_STARTS = {
    "actions": ([sys.executable, "-m", "actions"], {}, "SHEBAO_ACTIONS_TOKEN"),
    "backend": ([sys.executable, "-m", "backend", "serve"], {}, "BACKEND_SECRET"),
    "rasa": (
        [
            _bin("rasa"),
            "run",
            "--model",
            "var/models",
            "--port",
            "1",
            "--credentials",
            "credentials.yml",
            "--endpoints",
            "endpoints.yml",
        ],
        {
            "SHEBAO_ACTIONS_URL": "http://127.0.0.1:1",
            "SHEBAO_ACTIONS_TOKEN": "x",
            "SHEBAO_TRACKER_URL": "sqlite:////nonexistent/never-written.sqlite3",
        },
        "SHEBAO_",
    ),
}


@pytest.mark.parametrize("service", sorted(PRODUCTION_STARTS))
def test_service_refuses_to_start_in_production_with_development_settings(
    service: str, tmp_path: Path
) -> None:
    command, extra, setting = PRODUCTION_STARTS[service]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(REPO_ROOT),
            "SHEBAO_ENV": "production",
            "SHEBAO_VAR_DIR": str(tmp_path),
            "RASA_TELEMETRY_ENABLED": "false",
            **extra,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "UnsafeForProduction" in output or "refus" in output.lower(), output[-2000:]
    assert setting in output
