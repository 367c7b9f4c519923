"""Process each WeChat message once, however often WeChat retries it, on any replica.

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

Across replicas (a shared storage, Redis) the first request *claims* the key
with the storage's atomic :meth:`~common.storage.Storage.add`; only the
replica that won runs the turn.  It publishes the job's state under the key
(``running``, then ``passive`` or ``deferred``) and, for a passive reply, the
reply's text for :data:`REPLY_TTL_SECONDS`.  A retry that reaches another
replica *follows* the claim (a :class:`Followed`): it polls for the state
within its reply budget and answers with the same passive text, or
``success`` (the owner delivers).  While its turn runs the owner renews a
short lease (:data:`LEASE_SECONDS`), so a replica that died mid-turn does not
block the message for long: a later retry claims it again.

When the shared storage is out of reach the message is processed here (a
duplicate is better than a lost message) and a warning is logged without the
key (it names the user).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import (
    Awaitable,
    Callable,
    Generic,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from bot.channels.wechat.constants import DEDUP_NAMESPACE, REPLY_NAMESPACE
from common.storage import MemoryStorage, Storage, StorageUnavailable

logger = logging.getLogger(__name__)

R = TypeVar("R")

# WeChat's retries come within ~15 s; keep results well past that.
DEFAULT_TTL_SECONDS = 600.0
# A running claim lives this long unless its owner renews it (every third of it).
LEASE_SECONDS = 10.0
# A passive reply's text stays shared only for WeChat's retries of it.
REPLY_TTL_SECONDS = 60.0
# How long, at most, a follower polls for the owner's decision, and how often.
FOLLOW_SECONDS = 5.0
POLL_SECONDS = 0.1

RUNNING, PASSIVE, DEFERRED = "running", "passive", "deferred"


@dataclass
class Job(Generic[R]):
    """The one processing of one WeChat message, run by this replica."""

    key: str
    task: "asyncio.Task[R]"
    deferred: bool = False
    passive: bool = False
    delivery: Optional["asyncio.Task[None]"] = None
    requests: int = 1
    lease: Optional["asyncio.Task[None]"] = None

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

    @property
    def state(self) -> str:
        """What other replicas are told: ``running``, ``passive`` or ``deferred``."""
        return PASSIVE if self.passive else DEFERRED if self.deferred else RUNNING


@dataclass
class Followed:
    """A message another replica claimed: this one only waits for its decision.

    ``decision`` resolves to the passive reply's text, or ``None`` when the
    answer is ``success`` (deferred, still undecided, or the claim is gone).
    """

    key: str
    decision: "asyncio.Task[Optional[str]]"
    requests: int = 1


class Deduplicator(Generic[R]):
    """Claims dedup keys in the shared storage and keeps this replica's jobs.

    ``storage`` holds the claims and decisions (``dedup:`` and ``reply:``
    keys; JSON values, so Redis can share them); this replica's live
    :class:`Job` and :class:`Followed` objects stay in its own memory.  A job
    is kept ``ttl`` seconds after it was claimed and again ``ttl`` seconds
    after its turn (and its delivery) finished, so a slow turn never loses its
    entry while it runs.
    """

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        storage: Optional[Storage] = None,
        lease: float = LEASE_SECONDS,
    ) -> None:
        self.ttl = ttl
        self.lease = lease
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        self.local = MemoryStorage()

    def job(self, key: str) -> Optional[Union[Job[R], Followed]]:
        """This replica's job or follower for ``key``, if any."""
        found = self.local.get(key)
        return found if isinstance(found, (Job, Followed)) else None

    def claim(
        self, key: str, start: Callable[[], Awaitable[R]]
    ) -> Tuple[Union[Job[R], Followed], bool]:
        """The job (or follower) for ``key`` and whether this call started a turn."""
        known = self.job(key)
        if known is not None:
            known.requests += 1
            return known, False
        if not self._claim_shared(key):
            followed = Followed(key, asyncio.ensure_future(self._follow(key)))
            self.local.set(key, followed, self.ttl)
            followed.decision.add_done_callback(lambda _: self._forget_unless(followed))
            return followed, False
        job: Job[R] = Job(key, asyncio.ensure_future(start()))
        self.local.set(key, job, self.ttl)
        job.task.add_done_callback(lambda _: self.keep(job))
        job.lease = asyncio.ensure_future(self._renew_lease(job))
        return job, True

    def keep(self, job: Job[R]) -> None:
        """Keep ``job`` for another ``ttl`` seconds (from now), and publish its state."""
        self.local.set(job.key, job, self.ttl)
        self.publish(job)

    def publish(self, job: Job[R]) -> None:
        """Tell other replicas the job's state (a lease while it is busy)."""
        ttl = self.lease if job.busy else self.ttl
        self._quietly(lambda: self.storage.set(_claim(job.key), job.state, ttl))

    def chose_passive(self, job: Job[R], text: str) -> None:
        """The job answers passively with ``text``: share it for retries elsewhere."""
        job.passive = True
        self._quietly(
            lambda: self.storage.set(REPLY_NAMESPACE + job.key, text, REPLY_TTL_SECONDS)
        )
        self.publish(job)

    def chose_deferred(self, job: Job[R]) -> None:
        """The customer-service API delivers: retries elsewhere answer ``success``."""
        job.deferred = True
        self.publish(job)

    # ---- internals ------------------------------------------------------------
    def _claim_shared(self, key: str) -> bool:
        """Whether this replica runs the turn (also when the storage is out of reach)."""
        try:
            return self.storage.add(_claim(key), RUNNING, self.lease)
        except StorageUnavailable:
            logger.warning(
                "wechat.dedup.storage_unavailable: processing the message here "
                "(a retry on another replica may process it again)"
            )
            return True

    async def _renew_lease(self, job: Job[R]) -> None:
        """Renew the claim while the job is busy, so it outlives only a dead owner."""
        while job.busy:
            running = {t for t in (job.task, job.delivery) if t and not t.done()}
            await asyncio.wait(running, timeout=self.lease / 3)
            if job.busy:
                self.publish(job)

    async def _follow(self, key: str) -> Optional[str]:
        """The owner's passive text, or ``None`` for ``success``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FOLLOW_SECONDS
        try:
            while True:
                state = self.storage.get(_claim(key))
                if state == PASSIVE:
                    text = self.storage.get(REPLY_NAMESPACE + key)
                    return text if isinstance(text, str) else None
                if state != RUNNING or loop.time() >= deadline:
                    return None  # deferred, gone, or still undecided
                await asyncio.sleep(POLL_SECONDS)
        except StorageUnavailable:
            logger.warning("wechat.dedup.storage_unavailable while following a claim")
            return None

    def _forget_unless(self, followed: Followed) -> None:
        """Forget a follower that learnt nothing, so the next retry asks again."""
        if followed.decision.cancelled() or followed.decision.result() is None:
            if self.local.get(followed.key) is followed:
                self.local.delete(followed.key)

    @staticmethod
    def _quietly(write: Callable[[], None]) -> None:
        try:
            write()
        except StorageUnavailable:
            logger.warning("wechat.dedup.storage_unavailable: state not shared")


def _claim(key: str) -> str:
    return DEDUP_NAMESPACE + key
