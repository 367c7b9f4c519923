"""Where the console gets conversation events from: a small seam.

``EventSource`` is all the summarizer, the transcript view and retention need:
events after a high-water mark, one conversation's events, and deleting
conversations.  ``SQLTrackerEventSource`` reads Rasa's SQL tracker store (the
``events`` table that ``bot.tracker_store`` fills, already redacted) by event
id.  In the scaled topology an implementation fed by Rasa's event broker
(RabbitMQ/Kafka → a table or stream with its own offsets) can take its place
without touching the rest of the console.  ``MemoryEventSource`` is for tests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Protocol, Sequence

from sqlalchemy import bindparam, inspect, text
from sqlalchemy.engine import Engine

from console.db import make_engine


@dataclass(frozen=True)
class StoredEvent:
    """One tracker event as stored (``data`` is Rasa's event dict, redacted)."""

    id: int
    sender_id: str
    type_name: str
    timestamp: float
    data: Dict[str, Any]


class EventSource(Protocol):
    """Where tracker events come from, so the console works from SQL or memory."""

    def read_after(self, after_id: int, limit: int) -> List[StoredEvent]:
        """Events with ``id > after_id`` in id order, at most ``limit``."""

    def events_for(self, sender_id: str) -> List[StoredEvent]:
        """Every stored event of one conversation, in order."""

    def delete_senders(self, sender_ids: Sequence[str]) -> int:
        """Delete these conversations' events; returns how many were deleted."""

    def max_id(self) -> int:
        """The largest stored event id (0 when empty)."""


def _event(row: Any) -> StoredEvent:
    try:
        data = json.loads(row.data) if row.data else {}
    except ValueError:
        data = {}
    return StoredEvent(
        id=int(row.id),
        sender_id=str(row.sender_id),
        type_name=str(row.type_name),
        timestamp=float(row.timestamp or data.get("timestamp") or 0.0),
        data=data,
    )


class SQLTrackerEventSource:
    """Rasa's SQL tracker store (SQLite or PostgreSQL), table ``events``."""

    TABLE = "events"

    def __init__(self, url: str, engine: Optional[Engine] = None) -> None:
        self.engine = engine or make_engine(url, own=False)
        self._ready = False

    def _has_table(self) -> bool:
        if not self._ready:
            self._ready = inspect(self.engine).has_table(self.TABLE)
        return self._ready

    def read_after(self, after_id: int, limit: int) -> List[StoredEvent]:
        """Next batch for the summarizer; empty until Rasa has created its table."""
        if not self._has_table():
            return []
        query = text(
            "SELECT id, sender_id, type_name, timestamp, data FROM events "
            "WHERE id > :after ORDER BY id LIMIT :limit"
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"after": after_id, "limit": limit})
            return [_event(row) for row in rows]

    def events_for(self, sender_id: str) -> List[StoredEvent]:
        """One conversation for the transcript page; empty until Rasa has created its
        table."""
        if not self._has_table():
            return []
        query = text(
            "SELECT id, sender_id, type_name, timestamp, data FROM events "
            "WHERE sender_id = :sender ORDER BY id"
        )
        with self.engine.connect() as connection:
            return [_event(r) for r in connection.execute(query, {"sender": sender_id})]

    def delete_senders(self, sender_ids: Sequence[str]) -> int:
        """Delete conversations past retention; returns the number of events removed."""
        if not sender_ids or not self._has_table():
            return 0
        query = text("DELETE FROM events WHERE sender_id IN :senders").bindparams(
            bindparam("senders", expanding=True)
        )
        deleted = 0
        with self.engine.begin() as connection:
            for start in range(0, len(sender_ids), 500):
                chunk = list(sender_ids[start : start + 500])
                deleted += connection.execute(query, {"senders": chunk}).rowcount or 0
        return deleted

    def max_id(self) -> int:
        """The newest event id, so the summarizer can tell how far behind it is."""
        if not self._has_table():
            return 0
        with self.engine.connect() as connection:
            return int(
                connection.execute(text("SELECT MAX(id) FROM events")).scalar() or 0
            )

    def close(self) -> None:
        """Release the pooled connections."""
        self.engine.dispose()


class MemoryEventSource:
    """Events held in memory (tests, and a stand-in for a broker consumer)."""

    def __init__(self, events: Iterable[Dict[str, Any]] = ()) -> None:
        self._events: List[StoredEvent] = []
        self._lock = threading.Lock()
        # like SQLite without AUTOINCREMENT, ids restart after the newest is deleted
        self._next = 1
        for item in events:
            self.add(item["sender_id"], item)

    def add(self, sender_id: str, data: Dict[str, Any]) -> StoredEvent:
        """Append an event as the tracker store would, assigning the next id."""
        with self._lock:
            stored = StoredEvent(
                id=(self._events[-1].id if self._events else self._next - 1) + 1,
                sender_id=sender_id,
                type_name=str(data.get("event", "")),
                timestamp=float(data.get("timestamp", 0.0)),
                data={k: v for k, v in data.items() if k != "sender_id"},
            )
            self._events.append(stored)
            return stored

    def read_after(self, after_id: int, limit: int) -> List[StoredEvent]:
        """Next batch for the summarizer."""
        return [e for e in self._events if e.id > after_id][:limit]

    def events_for(self, sender_id: str) -> List[StoredEvent]:
        """One conversation's events."""
        return [e for e in self._events if e.sender_id == sender_id]

    def delete_senders(self, sender_ids: Sequence[str]) -> int:
        """Delete conversations; returns the number of events removed."""
        wanted = set(sender_ids)
        with self._lock:
            before = len(self._events)
            self._events = [e for e in self._events if e.sender_id not in wanted]
            return before - len(self._events)

    def max_id(self) -> int:
        """The newest event id."""
        return self._events[-1].id if self._events else 0

    def close(self) -> None:
        """Nothing to release; present to satisfy :class:`EventSource`."""
        return None
