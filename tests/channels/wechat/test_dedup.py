"""One job per dedup key, kept through the storage seam while it matters."""

from __future__ import annotations

import asyncio

from bot.channels.wechat.dedup import Deduplicator
from common.storage import MemoryStorage


async def test_each_key_starts_once() -> None:
    started = []
    gate = asyncio.Event()

    async def work() -> str:
        started.append(1)
        await gate.wait()
        return "done"

    jobs: Deduplicator[str] = Deduplicator()
    first, new = jobs.claim("msg:oA:1", work)
    again, new_again = jobs.claim("msg:oA:1", work)
    assert new and not new_again and first is again and again.requests == 2
    other, new_other = jobs.claim("msg:oB:1", work)  # another user's MsgId 1
    assert new_other and other is not first
    gate.set()
    assert await first.task == "done"
    await other.task
    assert len(started) == 2


async def test_claims_are_shared_and_jobs_outlive_their_ttl_while_running() -> None:
    now = [0.0]
    jobs: Deduplicator[str] = Deduplicator(ttl=10, storage=MemoryStorage())
    jobs.local = MemoryStorage(clock=lambda: now[0])
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    job, _ = jobs.claim("msg:oA:1", work)
    assert jobs.storage.get("dedup:msg:oA:1") == "running"  # the shared claim
    assert jobs.job("msg:oA:1") is job
    now[0] = 5
    gate.set()
    await job.task
    await asyncio.sleep(0)  # the done callback runs
    now[0] = 14  # 14 s after the claim, 9 s after the turn ended: still known
    assert jobs.claim("msg:oA:1", work) == (job, False)
    now[0] = 16
    assert jobs.job("msg:oA:1") is None
