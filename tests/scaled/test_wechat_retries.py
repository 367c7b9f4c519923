"""WeChat's retries of one message reach different Rasa replicas: one turn, one reply.

WeChat retries a callback it got no answer to within 5 seconds with the same
MsgId, and behind a load balancer a retry usually lands on another replica.
Here the platform's requests go straight to each replica's own port (signed
and encrypted as the platform does, ``tests/support/fake_wechat.py``): the
first to one replica, a retry to the other while the first still runs, and
late retries to both after it finished.  The replicas share the claim in
Redis (``bot/channels/wechat/dedup.py``), so Rasa runs the message once —
one user event in the PostgreSQL tracker store — and the resident gets one
reply: the same passive reply on every request, or ``success`` everywhere
and one delivery through the customer-service API.
"""

from __future__ import annotations

import asyncio
import time
from typing import List

import aiohttp
import pytest

from tests.support.fake_wechat import FakeWeChatApi, Reply, WeChatCallbacks, new_openid
from tests.support.scaled import stored_events
from tools.scaled import ScaledStack

pytestmark = pytest.mark.scaled
TEXT = "我想自己交医保，怎么办？"
CHOICES = "回复数字选择：\n1. 城镇户口\n2. 农业户口"


async def test_one_msgid_retried_to_both_replicas_is_processed_once(
    scaled: ScaledStack, wechat_api: FakeWeChatApi
) -> None:
    from tests.support.wechat_app import AES_KEY, APP_ID, TOKEN

    first, second = (
        WeChatCallbacks(
            f"{scaled.direct_url(rasa)}/webhooks/wechat/webhook", TOKEN, APP_ID, AES_KEY
        )
        for rasa in scaled.replicas("rasa")
    )
    openid = new_openid()
    xml = first.text(openid, TEXT, msg_id=first.next_msg_id())

    async with aiohttp.ClientSession() as http:

        async def retry(after: float) -> Reply:
            await asyncio.sleep(after)
            return await second.post(http, xml, encrypt=True, timeout=60)

        # each request signed anew (timestamp, nonce), as each retry of WeChat's
        replies: List[Reply] = list(
            await asyncio.gather(
                first.post(http, xml, encrypt=True, timeout=60), retry(0.3)
            )
        )
        for callbacks in (second, first):  # late retries, once it has finished
            replies.append(await callbacks.post(http, xml, encrypt=True, timeout=60))

    assert all(r.status == 200 for r in replies), replies
    passive = {r.content for r in replies if not r.is_success}
    assert len(passive) <= 1, passive  # one text, however many requests carry it
    if passive:
        (content,) = passive
        await asyncio.sleep(2)  # a second delivery through the API would be late
        assert wechat_api.messages_to(openid) == []
    else:  # over the reply budget: delivered once through the API
        messages = await asyncio.to_thread(wechat_api.wait_for_messages, openid, 1, 60)
        await asyncio.sleep(2)
        messages = wechat_api.messages_to(openid)
        content = "\n\n".join(m["text"]["content"] for m in messages)
    assert content.count(CHOICES) == 1, content

    # Rasa ran the message once: one user event, one turn's bot messages
    deadline = time.monotonic() + 10
    events = stored_events(scaled, f"wechat:{openid}")
    while not events and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        events = stored_events(scaled, f"wechat:{openid}")
    assert [e["text"] for e in events if e["event"] == "user"] == [TEXT]
    bot_texts = [e.get("text") or "" for e in events if e["event"] == "bot"]
    assert bot_texts and len(set(bot_texts)) == len(bot_texts), bot_texts
