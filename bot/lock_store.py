"""The conversation lock store: one turn at a time per conversation, across replicas.

Rasa processes a conversation's messages one after another by taking a ticket
lock per sender id.  With several Rasa servers behind a load balancer the
lock must be shared, so ``endpoints.yml`` names this class::

    lock_store:
      type: bot.lock_store.SharedLockStore

* ``SHEBAO_REDIS_URL`` set: :class:`RedisTicketLockStore`, Rasa's
  ``RedisLockStore`` on our Redis client, under ``SHEBAO_REDIS_PREFIX`` +
  ``lock:``;
* unset: Rasa's ``InMemoryLockStore`` (one Rasa process, as before).

Redis unavailable: a conversation whose ticket cannot be issued or whose
lock cannot be read is locked in this process instead (a warning, no sender
id, is logged), so residents keep getting answers; only the exclusivity
across replicas is lost until Redis is back, and each call tries Redis again.
A ticket that cannot be given back expires with its lifetime.

A ticket lives Rasa's ``TICKET_LOCK_LIFETIME`` seconds (default 60, read by
Rasa when it starts): the turn of a replica that died holding the lock stops
blocking the conversation once its ticket expires.  A ticket that waits
behind another is kept alive by its waiter (Rasa's own would expire while it
waits), so the turn after a dead replica's gets the lock, at most a lifetime
after the dead turn began.

What Rasa's own Redis store does not, this one does: every read-modify-write
of a lock (issuing, finishing, expiring, cleaning up tickets) is one optimistic
transaction, so two replicas taking tickets at the same moment never both get
the lock; each key expires with its last ticket, so a dead replica leaves no
lock behind; and the key is a keyed hash of the sender id (a web sender id is
a session credential) with only that hash in the value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional, Text, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    LockStore,
    RedisLockStore,
)
from rasa.utils.endpoints import EndpointConfig

from common.redis_storage import (
    RedisSettings,
    key_digest,
    redis_client,
    run_command,
    update_atomically,
)
from common.storage import StorageUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
Change = Callable[[Optional[TicketLock]], Tuple[T, Optional[TicketLock]]]

LOCK_NAMESPACE = "lock:"
# Seconds a lock key outlives its last ticket (clock skew between replicas).
KEY_MARGIN_SECONDS = 5.0


class RedisTicketLockStore(RedisLockStore):
    """Rasa's Redis lock store with atomic updates, hashed ids and expiring keys.

    Lock objects in Python carry the real sender id; only its keyed hash is
    written (in the key and in the value's ``conversation_id``).
    """

    def __init__(self, client: Any, key_prefix: str, secret: str) -> None:
        # Rasa's __init__ builds its own client from host/port and accepts only
        # an alphanumeric prefix; ours come from SHEBAO_REDIS_URL and _PREFIX.
        LockStore.__init__(self)
        self.red = client
        self.key_prefix = key_prefix
        self._secret = secret

    def _name(self, conversation_id: Text) -> str:
        return self.key_prefix + key_digest(self._secret, conversation_id)

    def _decode(
        self, raw: Optional[bytes], conversation_id: Text
    ) -> Optional[TicketLock]:
        if not raw:
            return None
        lock = TicketLock.from_dict(json.loads(raw))
        lock.conversation_id = conversation_id
        return lock

    def _update(self, conversation_id: Text, change: Change[T]) -> T:
        """Apply ``change`` to the stored lock in one transaction.

        A lock without tickets is deleted; otherwise its key expires with its
        last ticket.
        """

        def apply(raw: Optional[bytes]) -> Tuple[T, Optional[bytes], float]:
            result, lock = change(self._decode(raw, conversation_id))
            if lock is None or not lock.tickets:
                return result, None, 0.0
            stored = TicketLock(key_digest(self._secret, conversation_id), lock.tickets)
            last = max(ticket.expires for ticket in lock.tickets)
            ttl = last - time.time() + KEY_MARGIN_SECONDS
            return result, stored.dumps().encode(), ttl

        return update_atomically(self.red, self._name(conversation_id), apply)

    # ---- Rasa's storage primitives ---------------------------------------------
    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """The stored lock for ``conversation_id``, if any."""
        raw = run_command(lambda: self.red.get(self._name(conversation_id)))
        return self._decode(raw, conversation_id)

    def delete_lock(self, conversation_id: Text) -> None:
        """Delete the conversation's lock."""
        deleted = run_command(lambda: self.red.delete(self._name(conversation_id)))
        self._log_deletion(conversation_id, bool(deleted))

    def save_lock(self, lock: TicketLock) -> None:
        """Store ``lock`` until its last ticket expires."""
        self._update(lock.conversation_id, lambda _: (None, lock))

    # ---- Rasa's read-modify-writes, made atomic ---------------------------------
    def issue_ticket(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME
    ) -> int:
        """A new ticket for the conversation; raises LockError as Rasa's does."""

        def issue(lock: Optional[TicketLock]) -> Tuple[int, TicketLock]:
            lock = lock or TicketLock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            return self._update(conversation_id, issue)
        except StorageUnavailable:
            raise  # SharedLockStore falls back to a lock in this process
        except Exception as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: Text) -> None:
        """Drop expired tickets."""

        def expire(lock: Optional[TicketLock]) -> Tuple[None, Optional[TicketLock]]:
            if lock is not None:
                lock.remove_expired_tickets()
            return None, lock

        self._update(conversation_id, expire)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove the served ticket (and the lock with the last one)."""

        def finish(lock: Optional[TicketLock]) -> Tuple[None, Optional[TicketLock]]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return None, lock

        self._update(conversation_id, finish)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Finish the ticket; a lock no one waits for goes in the same transaction."""
        self.finish_serving(conversation_id, ticket_number)

    async def _acquire_lock(
        self, conversation_id: Text, ticket: int, wait_time_in_seconds: float
    ) -> TicketLock:
        """Rasa's wait for the lock, with the waiting ticket kept alive meanwhile.

        Rasa counts a ticket's lifetime from when it is issued, waiting
        included: a turn that arrives just after a replica died holding the
        conversation would see its own ticket run out within the second the
        dead one does, and fail with ``LockError`` (the REST channel answers
        200 with no reply; nothing is stored).  Here each wait step drops the
        *other* expired tickets and moves this one's expiry on by the time it
        waited, so its lifetime runs from when it is served.
        """
        waited_since = time.time()
        while True:
            lock = self.get_lock(conversation_id)
            if lock is None or all(t.number != ticket for t in lock.tickets):
                raise LockError(
                    f"Could not acquire lock for conversation_id '{conversation_id}'."
                )
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(wait_time_in_seconds)
            now = time.time()
            self._update(conversation_id, _waited(ticket, now - waited_since))
            waited_since = now


def _waited(ticket: int, seconds: float) -> Change[None]:
    """The change one wait step makes: ``ticket``'s expiry moved on by
    ``seconds``, the other expired tickets gone."""

    def change(lock: Optional[TicketLock]) -> Tuple[None, Optional[TicketLock]]:
        if lock is None:
            return None, None
        for held in list(lock.tickets):
            if held.number == ticket:
                held.expires += seconds
            elif held.has_expired():
                lock.tickets.remove(held)
        return None, lock

    return change


class SharedLockStore(LockStore):
    """The lock store ``endpoints.yml`` names: Redis if configured, else in memory.

    Rasa creates it with ``SharedLockStore(endpoint_config=...)``; the choice
    is the environment's (``SHEBAO_REDIS_URL``), and every call goes to the
    chosen store.
    """

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        settings: Optional[RedisSettings] = None,
    ) -> None:
        super().__init__()
        settings = settings or RedisSettings.from_env()
        settings.check_for_production()
        self.store: LockStore
        # Where a conversation is locked while Redis cannot be reached.
        self.local = InMemoryLockStore()
        if settings.url:
            self.store = RedisTicketLockStore(
                redis_client(settings.url),
                settings.prefix + LOCK_NAMESPACE,
                settings.secret,
            )
        else:
            self.store = InMemoryLockStore()

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Rasa's ``LockStore.lock`` on the chosen store, in this process if Redis fails.

        Only failures to reach Redis *before* the lock is held switch to the
        local store; an error of the turn itself propagates unchanged.
        """
        store: LockStore = self.store
        try:
            ticket = store.issue_ticket(conversation_id, lock_lifetime)
            acquired = await store._acquire_lock(
                conversation_id, ticket, wait_time_in_seconds
            )
        except StorageUnavailable as exc:
            logger.warning("Lock store unavailable (%s); locking in this process.", exc)
            store = self.local
            ticket = store.issue_ticket(conversation_id, lock_lifetime)
            acquired = await store._acquire_lock(
                conversation_id, ticket, wait_time_in_seconds
            )
        try:
            yield acquired
        finally:
            try:
                store.cleanup(conversation_id, ticket)
            except StorageUnavailable as exc:
                logger.warning("Lock store unavailable (%s); the ticket expires.", exc)

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        """The chosen store's lock."""
        return self.store.get_lock(conversation_id)

    def delete_lock(self, conversation_id: Text) -> None:
        """Delete in the chosen store."""
        self.store.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        """Save in the chosen store."""
        self.store.save_lock(lock)

    def issue_ticket(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME
    ) -> int:
        """Issue through the chosen store (atomic in Redis)."""
        return self.store.issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: Text) -> None:
        """Expire tickets through the chosen store."""
        self.store.update_lock(conversation_id)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        """Finish through the chosen store."""
        self.store.finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Clean up through the chosen store."""
        self.store.cleanup(conversation_id, ticket_number)
