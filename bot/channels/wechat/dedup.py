"""Process each WeChat message once, however often WeChat retries it.

WeChat retries a callback it got no answer to within 5 seconds, up to three
times, with the same MsgId (events: same FromUserName + CreateTime); keys are
scoped by the sender's OpenID, so one user's MsgId never finds another user's
job (see :attr:`bot.channels.wechat.protocol.Incoming.dedup_key`).  The first
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

from bot.channels.wechat.constants import DEDUP_NAMESPACE
from common.storage import MemoryStorage, Storage

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
        """Whether this message's reply path (deferred or passive) has been chosen."""
        return self.deferred or self.passive

    @property
    def busy(self) -> bool:
        """Whether a retry must wait: the turn or its delivery is still running."""
        return not self.task.done() or (
            self.delivery is not None and not self.delivery.done()
        )


class Deduplicator(Generic[R]):
    """Maps dedup keys to jobs through the storage seam (``wechat:dedup:`` keys).

    A job is kept ``ttl`` seconds after it was claimed and again ``ttl`` seconds
    after its turn (and its delivery) finished, so a slow turn never loses its
    entry while it runs.  The values are live :class:`Job` objects (asyncio
    tasks): the storage must be an in-process one such as
    :class:`~common.storage.MemoryStorage`.
    """

    def __init__(
        self, ttl: float = DEFAULT_TTL_SECONDS, storage: Optional[Storage] = None
    ) -> None:
        self.ttl = ttl
        self.storage: Storage = storage if storage is not None else MemoryStorage()

    def claim(self, key: str, start: Callable[[], Awaitable[R]]) -> Tuple[Job[R], bool]:
        """The job for ``key`` and whether this call started it."""
        stored_key = DEDUP_NAMESPACE + key
        job = self.storage.get(stored_key)
        if isinstance(job, Job):
            job.requests += 1
            return job, False
        job = Job(key, asyncio.ensure_future(start()))
        self.storage.set(stored_key, job, self.ttl)
        job.task.add_done_callback(lambda _: self.keep(job))
        return job, True

    def keep(self, job: Job[R]) -> None:
        """Keep ``job`` for another ``ttl`` seconds (from now)."""
        self.storage.set(DEDUP_NAMESPACE + job.key, job, self.ttl)
