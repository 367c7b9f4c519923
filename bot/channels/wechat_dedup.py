"""Process each WeChat message once, however often WeChat retries it.

WeChat retries a callback it got no answer to within 5 seconds, up to three
times, with the same MsgId (events: same FromUserName + CreateTime).  The first
request starts a :class:`Job`; retries find it and share its result, so Rasa
sees the message exactly once.  How the answer goes out is decided once per
job, by whichever request first sees the result or the budget run out:

* *passive*: every request for the job answers with the same passive reply
  (WeChat listens on one connection at a time, so the user sees it once);
* *deferred*: the customer-service API delivers it, and every request answers
  ``success``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, Generic, Optional, Tuple, TypeVar

from bot.channels.wechat_memory import TtlCache

R = TypeVar("R")

# WeChat's retries come within ~15 s; keep results well past that.
DEFAULT_TTL_SECONDS = 600.0


@dataclass
class Job(Generic[R]):
    """The one processing of one WeChat message."""

    key: str
    task: "asyncio.Task[R]"
    deferred: bool = False
    passive: bool = False
    delivery: Optional["asyncio.Task[None]"] = None
    requests: int = 1

    @property
    def decided(self) -> bool:
        return self.deferred or self.passive

    @property
    def busy(self) -> bool:
        return not self.task.done() or (
            self.delivery is not None and not self.delivery.done()
        )


class Deduplicator(Generic[R]):
    """Maps dedup keys to jobs for ``ttl`` seconds; running jobs are never evicted."""

    def __init__(
        self, ttl: float = DEFAULT_TTL_SECONDS, max_entries: int = 10_000
    ) -> None:
        self._jobs: TtlCache[Job[R]] = TtlCache(ttl, max_entries)

    def claim(self, key: str, start: Callable[[], Awaitable[R]]) -> Tuple[Job[R], bool]:
        """The job for ``key`` and whether this call started it."""
        job = self._jobs.get(key)
        if job is not None:
            job.requests += 1
            return job, False
        job = Job(key, asyncio.ensure_future(start()))
        self._jobs.set(key, job)
        self._jobs.prune(keep=lambda j: j.busy)
        return job, True

    def __len__(self) -> int:
        return len(self._jobs)
