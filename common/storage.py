"""The storage seam for process state that must expire: ``get`` / ``set(ttl)`` /
``add(ttl)`` / ``delete``.

Modelled on wechatpy's ``SessionStorage``.  Identity sessions (action server),
WeChat de-duplication and WeChat per-user memory (Rasa server) all keep their
state through a :class:`Storage`; :class:`MemoryStorage` is the implementation
for one process, and :class:`common.redis_storage.RedisStorage` the one shared
by replicas (``common.redis_storage.storage_from_env`` picks one).  Keys are
strings within the caller's namespace; values are JSON-serialisable.

A shared implementation can fail: it then raises :class:`StorageUnavailable`
(never its client's own exceptions), and each caller decides how to degrade.
"""

from __future__ import annotations

import heapq
import time
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple


class StorageUnavailable(RuntimeError):
    """The shared storage cannot be reached (or answered garbage); try again later."""


class Storage(Protocol):
    """Key-value state whose every entry has a lifetime."""

    def get(self, key: str) -> Optional[Any]:
        """The live value at ``key``, or ``None``."""

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` at ``key`` for ``ttl`` seconds (replacing what was there)."""

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """Store ``value`` only if ``key`` holds nothing live; whether it did.

        Atomic: of several callers (processes, with a shared storage) adding
        the same key, exactly one gets ``True``.
        """

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""


class MemoryStorage:
    """:class:`Storage` in this process's memory, bounded in age and size.

    Expiry is ordered (a heap of deadlines), so each call does work only for
    the entries that actually expired; past ``max_entries`` the entries closest
    to their deadline go first.
    """

    def __init__(
        self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._items: Dict[str, Tuple[float, Any]] = {}
        self._deadlines: List[Tuple[float, str]] = []

    def get(self, key: str) -> Optional[Any]:
        """The live value for ``key``, or ``None`` once it has expired."""
        self._expire()
        item = self._items.get(key)
        return None if item is None else item[1]

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds; a non-positive TTL deletes the key."""
        if ttl <= 0:
            self.delete(key)
            return
        self._expire()
        deadline = self._clock() + ttl
        self._items[key] = (deadline, value)
        heapq.heappush(self._deadlines, (deadline, key))
        while len(self._items) > self.max_entries:
            self._pop_earliest()

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """Store ``value`` unless ``key`` is live (one event loop: no race)."""
        if ttl <= 0 or self.get(key) is not None:
            return False
        self.set(key, value, ttl)
        return True

    def delete(self, key: str) -> None:
        """Forget ``key``; a missing key is not an error."""
        self._items.pop(key, None)

    def __len__(self) -> int:
        self._expire()
        return len(self._items)

    def _expire(self) -> None:
        now = self._clock()
        while self._deadlines and self._deadlines[0][0] <= now:
            self._pop_earliest()
        # Replaced or deleted keys leave stale heap entries; compact when they dominate.
        if len(self._deadlines) > 2 * len(self._items) + 64:
            self._deadlines = [(d, k) for k, (d, _) in self._items.items()]
            heapq.heapify(self._deadlines)

    def _pop_earliest(self) -> None:
        deadline, key = heapq.heappop(self._deadlines)
        item = self._items.get(key)
        if item is not None and item[0] == deadline:
            del self._items[key]
