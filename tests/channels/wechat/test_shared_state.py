"""Two replicas of the WeChat channel sharing one Redis: a message is processed
once wherever its retries land, the per-user memory follows the user, nothing
readable is written, and a Redis that is down costs duplicates, never a lost
message or a 500."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, List

import pytest

from bot.channels.wechat.dedup import Deduplicator, Followed, Job
from common.redis_storage import RedisStorage, redis_client
from tests.support.fake_wechat import FakeWeChatApi
from tests.support.redis_fixtures import SECRET, dump_prefix
from tests.support.wechat_app import RESIDENCY_BUTTONS, Served, served_replicas

MakeStorage = Callable[[str], RedisStorage]


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def texts(replicas: List[Served]) -> List[Any]:
    return [text for served in replicas for text in served.rasa.texts]


# ---- the deduplicator alone -----------------------------------------------------
async def test_one_key_claimed_on_two_replicas_runs_once_and_the_other_follows(
    redis_storage: MakeStorage,
) -> None:
    one: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"))
    two: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"))
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    job, first = one.claim("msg:oA:1", work)
    followed, first_there = two.claim("msg:oA:1", work)
    assert first and isinstance(job, Job)
    assert not first_there and isinstance(followed, Followed)
    gate.set()
    await job.task
    one.chose_passive(job, "the answer")
    assert await followed.decision == "the answer"
    again, _ = two.claim("msg:oA:1", work)
    assert again is followed and again.requests == 2  # retries share what was learnt


async def test_a_deferred_answer_is_success_elsewhere(
    redis_storage: MakeStorage,
) -> None:
    one: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"))
    two: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"))
    job, _ = one.claim("msg:oA:2", asyncio.Event().wait)  # type: ignore[arg-type]
    assert isinstance(job, Job)
    one.chose_deferred(job)
    followed, _ = two.claim("msg:oA:2", asyncio.Event().wait)  # type: ignore[arg-type]
    assert isinstance(followed, Followed) and await followed.decision is None
    job.task.cancel()


async def test_the_claim_of_a_replica_that_died_mid_turn_expires(
    redis_storage: MakeStorage,
) -> None:
    owner: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"), lease=0.3)
    job, _ = owner.claim("msg:oA:3", asyncio.Event().wait)  # type: ignore[arg-type]
    assert isinstance(job, Job) and job.lease is not None
    await asyncio.sleep(0.2)
    job.lease.cancel()  # the owner stops renewing: it died
    other: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"), lease=0.3)

    async def work() -> str:
        return "processed"

    followed, first = other.claim("msg:oA:3", work)
    assert not first and await followed.decision is None  # type: ignore[union-attr]
    await asyncio.sleep(0.4)
    retried, first = other.claim("msg:oA:3", work)
    assert first and await retried.task == "processed"  # type: ignore[union-attr]
    job.task.cancel()


async def test_a_running_owner_keeps_its_claim_past_the_lease(
    redis_storage: MakeStorage,
) -> None:
    owner: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"), lease=0.3)
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "done"

    job, _ = owner.claim("msg:oA:4", slow)
    await asyncio.sleep(0.7)  # more than two leases
    other: Deduplicator[str] = Deduplicator(storage=redis_storage("wechat"))
    followed, first = other.claim("msg:oA:4", slow)
    assert not first and isinstance(followed, Followed)
    gate.set()
    await job.task  # type: ignore[union-attr]
    followed.decision.cancel()


# ---- two served replicas ----------------------------------------------------------
async def test_one_message_sent_to_two_replicas_reaches_rasa_once(
    redis_storage: MakeStorage,
    fake_api: FakeWeChatApi,
    openid: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    storages = [redis_storage("wechat"), redis_storage("wechat")]
    async with served_replicas(fake_api.base_url, storages) as (a, b):
        a.rasa.gate.clear()
        b.rasa.gate.clear()
        xml = a.wechat.text(openid, "单位怎么办理社保登记")
        posts = [
            asyncio.ensure_future(served.wechat.post(served.http, xml))
            for served in (a, b, a, b)
        ]
        await until(lambda: len(texts([a, b])) == 1)
        await asyncio.sleep(0.2)  # every request has claimed or followed by now
        a.rasa.gate.set()
        b.rasa.gate.set()
        replies = await asyncio.gather(*posts)
    assert [r.content for r in replies] == ["收到：单位怎么办理社保登记"] * 4
    assert texts([a, b]) == ["单位怎么办理社保登记"]
    assert fake_api.messages_to(openid) == []
    accepted = [m for m in caplog.messages if "wechat.request.accepted" in m]
    assert len(accepted) == 4 and "claimed by another replica" in "".join(accepted)
    assert not any(openid in m for m in caplog.messages)  # only the masked OpenID


async def test_a_passive_reply_is_replayed_by_the_other_replica(
    redis_storage: MakeStorage, fake_api: FakeWeChatApi, openid: str
) -> None:
    storages = [redis_storage("wechat"), redis_storage("wechat")]
    async with served_replicas(fake_api.base_url, storages) as (a, b):
        xml = a.wechat.text(openid, "缴费后怎么查询")
        first = await a.wechat.post(a.http, xml)
        retry = await b.wechat.post(b.http, xml, encrypt=True)
    assert first.content == retry.content == "收到：缴费后怎么查询"
    assert b.rasa.messages == []


async def test_over_the_budget_a_retry_elsewhere_is_success_and_one_delivery(
    redis_storage: MakeStorage, fake_api: FakeWeChatApi, openid: str
) -> None:
    storages = [redis_storage("wechat"), redis_storage("wechat")]
    async with served_replicas(
        fake_api.base_url, storages, reply_budget_seconds=0.3
    ) as (a, b):
        a.rasa.gate.clear()
        xml = a.wechat.text(openid, "我要转人工")
        assert (await a.wechat.post(a.http, xml)).is_success
        assert (await b.wechat.post(b.http, xml)).is_success  # the retry elsewhere
        a.rasa.gate.set()
        [sent] = await asyncio.to_thread(fake_api.wait_for_messages, openid, 1)
        assert sent["text"]["content"] == "收到：我要转人工"
        assert (await b.wechat.post(b.http, xml)).is_success  # a late retry
        await asyncio.sleep(0.2)
    assert len(fake_api.messages_to(openid)) == 1
    assert b.rasa.messages == [] and len(a.rasa.messages) == 1


async def test_numbered_buttons_and_language_follow_the_user_across_replicas(
    redis_storage: MakeStorage, fake_api: FakeWeChatApi, openid: str
) -> None:
    storages = [redis_storage("wechat"), redis_storage("wechat")]
    async with served_replicas(fake_api.base_url, storages) as (a, b):
        shown = await a.wechat.post(a.http, a.wechat.text(openid, "我想交医保"))
        assert "1. 城镇户口" in shown.content
        await b.wechat.post(b.http, b.wechat.text(openid, "1"))
    assert b.rasa.texts == [RESIDENCY_BUTTONS[0]["payload"]]


async def test_redis_holds_nothing_readable_of_a_wechat_conversation(
    redis_storage: MakeStorage,
    redis_url: str,
    redis_prefix: str,
    fake_api: FakeWeChatApi,
    openid: str,
) -> None:
    async with served_replicas(fake_api.base_url, [redis_storage("wechat")]) as [a]:
        msg_id = a.wechat.next_msg_id()
        await a.wechat.post(a.http, a.wechat.text(openid, "我想交医保", msg_id=msg_id))
    stored = dump_prefix(redis_url, redis_prefix)
    kinds = {key.decode().split(":")[1] for key, _ in stored}
    assert kinds == {"wechat"} and len(stored) >= 4  # replay, claim, reply, buttons
    for key, value in stored:
        for clear in (openid, str(msg_id), "城镇户口", "inform_residency", "running"):
            assert clear.encode() not in key and clear.encode() not in value


# ---- Redis down -------------------------------------------------------------------
async def test_with_redis_down_messages_are_still_answered_and_logged_without_the_user(
    closed_redis_url: str,
    fake_api: FakeWeChatApi,
    openid: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = RedisStorage(redis_client(closed_redis_url), "shebaotest:wechat:", SECRET)
    caplog.set_level(logging.WARNING)
    async with served_replicas(fake_api.base_url, [down]) as [a]:
        xml = a.wechat.text(openid, "我想交医保")
        first = await a.wechat.post(a.http, xml)
        retry = await a.wechat.post(a.http, xml)  # this process still deduplicates
        number = await a.wechat.post(a.http, a.wechat.text(openid, "1"))
    assert first.status == retry.status == number.status == 200
    assert "城镇户口" in first.content and retry.content == first.content
    assert a.rasa.texts == ["我想交医保", "1"]  # no memory: the number goes as typed
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("dedup.storage_unavailable" in w for w in warnings)
    assert any("memory.storage_unavailable" in w for w in warnings)
    assert not any(openid in w or openid[:4] + "…" in w for w in warnings)
