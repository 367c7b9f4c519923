"""Rasa's SQL tracker store, with personal data masked before it is written.

Transcripts are for support staff; they must never hold a resident ID number,
a verification code or a phone number.  Every event is passed through
:func:`common.redaction.redact_value` (user texts, slot values, entities, parse
data, metadata keys and values, bot texts) before it is persisted, so neither
the database nor Rasa's ``/conversations/<id>/tracker`` API (which reads the
store) can show them.

Fail-closed: redaction never raises (metadata nested too deep or too large is
replaced by a marker), and an event that still cannot be redacted or
serialised is stored as a stub with only its type and timestamp, never as is.
``save`` therefore does not fail on hostile input, so Rasa's
``FailSafeTrackerStore`` never falls back to keeping the raw tracker.

Per-turn cost (README, "Benchmarks"): Rasa's store reads, JSON-decodes and
replays the whole conversation on every retrieve and counts the stored events
with a ``COUNT`` query on every save, so a turn gets slower as the
conversation grows.  This store keeps the tracker it last stored for each
conversation in memory (a bounded LRU, ``SHEBAO_TRACKER_CACHE_SIZE``
conversations) together with the id of the newest row it wrote.  A retrieve
asks the database only for that sender's newest event id (one index lookup on
``(sender_id, id)``); if it is still the remembered one, nobody else (another
replica) has written since and a copy of the remembered tracker is returned,
otherwise the conversation is read from the database as before.  The
remembered tracker is exactly what a database read would give: it is built
from the redacted event dicts that were written (an event whose redacted form
equals its original is kept as is).  A save after a cache hit knows how many
events are stored and skips the ``COUNT`` (so does the first save of a new
conversation: nothing is stored yet); a new session (``session_started``)
drops the entry, so the next read goes to the database.  SQLite (the embedded
default) runs with a write-ahead log and ``synchronous=NORMAL`` on pooled
connections.

A sender id that itself contains personal data (a phone number used as the
id) is stored as ``redacted:<keyed hash>`` (HMAC-SHA256 with
``SHEBAO_TRACKER_SENDER_KEY``), so the same conversation is still found.

With an event broker configured (``bot.event_broker``, RabbitMQ), ``save``
publishes exactly the rows it wrote, after the commit: the stored (redacted)
event dict, the stored sender id and the row id.  Publishing is best effort;
the database stays the system of record.

Configured in ``endpoints.yml``:

    tracker_store:
      type: bot.tracker_store.RedactingSQLTrackerStore
      url: ${SHEBAO_TRACKER_URL}     # sqlite:////abs/path.sqlite3 or postgresql://...
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Text, Tuple, Type

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.shared.utils.common import all_subclasses

from bot import rasa_speedups
from bot.tracker import IncrementalTracker
from common.deployment import require_production_secret
from common.env import env_int, env_secret
from common.redaction import FAILED, redact_text, redact_value
from common.sqlite import sqlite_pragmas_without_foreign_keys
from common.tokens import as_bytes

logger = logging.getLogger(__name__)

SENDER_KEY_VARIABLE = "SHEBAO_TRACKER_SENDER_KEY"
CACHE_SIZE_VARIABLE = "SHEBAO_TRACKER_CACHE_SIZE"
_DEFAULT_CACHE_SIZE = 2000
_DEV_SENDER_KEY = "shebao-development-sender-key"
_NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")


# Web sender ids are the browser's session secret: whoever knows one can resume
# that conversation, so transcripts keep only a keyed hash of them.
SECRET_SENDER_PREFIXES = ("web:",)


def stored_sender_id(sender_id: str, key: bytes) -> str:
    """``sender_id`` as the transcript keeps it.

    A sender id that is a credential (``web:<session id>``) or contains
    personal data (a phone number) is replaced by a keyed hash, under its
    channel prefix where it has one, so staff still see the channel.
    """
    secret_prefix = next(
        (p for p in SECRET_SENDER_PREFIXES if sender_id.startswith(p)), None
    )
    if secret_prefix is None and redact_text(sender_id) == sender_id:
        return sender_id
    digest = hmac.new(key, as_bytes(sender_id), hashlib.sha256).hexdigest()
    return (secret_prefix or "redacted:") + digest[:32].translate(_NO_DIGITS)


def sender_key() -> bytes:
    """The key of :func:`stored_sender_id` (refused in production if a dev value)."""
    key = env_secret(SENDER_KEY_VARIABLE, _DEV_SENDER_KEY)
    require_production_secret(SENDER_KEY_VARIABLE, key, (_DEV_SENDER_KEY,))
    return key.encode("utf-8")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def redacted_event_data(event: Event) -> Dict[str, Any]:
    """The event as a dict with personal data masked; a stub if that fails."""
    try:
        data = redact_value(event.as_dict())
        if isinstance(data, dict):
            json.dumps(data)  # serialisable, as save() needs it
            return data
    except Exception:  # noqa: BLE001 - fail closed below
        pass
    logger.warning("Could not redact a %s event; storing a stub.", event.type_name)
    timestamp = event.timestamp if _is_number(event.timestamp) else None
    stub: Dict[str, Any] = {
        "event": event.type_name,
        "timestamp": timestamp,
        "metadata": {"redaction": "failed"},
    }
    if event.type_name in ("user", "bot"):
        stub["text"] = FAILED
    if event.type_name == "user":
        stub["parse_data"] = {"text": FAILED, "intent": {}, "entities": []}
    return stub


_EVENT_CLASSES: Dict[str, Type[Event]] = {}


def deserialise_events(dicts: Iterable[Dict[str, Any]]) -> List[Event]:
    """``rasa.shared.core.events.deserialise_events``, without its per-event cost.

    Rasa resolves each event's class by walking every ``Event`` subclass
    (recursively, with ``inspect.isabstract``) once per event; the first match
    in that walk is remembered here instead, so the result is the same.
    """
    if not _EVENT_CLASSES:
        for cls in all_subclasses(Event):
            _EVENT_CLASSES.setdefault(cls.type_name, cls)
    result = []
    for parameters in dicts:
        name = parameters.get("event")
        if name is None:
            continue
        cls = _EVENT_CLASSES.get(name)
        if cls is None:
            found = Event.resolve_by_type(name)  # "topic" -> None, else raises
            if found is None:
                continue
            cls = _EVENT_CLASSES[name] = found
        event = cls._from_parameters(parameters)
        if event is not None:
            result.append(event)
    return result


def _copy_slot(slot: Any) -> Any:
    copied = copy.copy(slot)
    if isinstance(slot.value, (list, dict)):
        copied._value = copy.deepcopy(slot.value)
    return copied


def copy_tracker(tracker: IncrementalTracker, sender_id: str) -> IncrementalTracker:
    """An independent tracker in the same state (events themselves are shared).

    Cheaper than ``DialogueStateTracker.copy`` (which replays every event):
    the event deque, slots and loop state are copied, the immutable-by-use
    event objects and the incremental bookkeeping (checked by identity before
    each use, bot/tracker.py) are shared.
    """
    copied = copy.copy(tracker)
    copied.sender_id = sender_id
    copied.events = deque(tracker.events, tracker.events.maxlen)
    copied.slots = {name: _copy_slot(slot) for name, slot in tracker.slots.items()}
    copied.active_loop = copy.deepcopy(tracker.active_loop)
    copied.latest_action = (
        dict(tracker.latest_action) if tracker.latest_action is not None else None
    )
    return copied


@dataclass
class _Stored:
    """What this process last stored for one conversation."""

    last_id: int  # newest row id of the conversation
    count: int  # rows in the latest session (what ``_additional_events`` counts)
    tracker: IncrementalTracker  # the tracker a database read would give


_EVENTS = SQLTrackerStore.SQLEvent.__table__
_NEWEST_ID = sa.select(sa.func.max(_EVENTS.c.id)).where(
    _EVENTS.c.sender_id == sa.bindparam("sender")
)


class RedactingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose stored events and sender ids are redacted."""

    @contextlib.contextmanager
    def session_scope(self) -> Iterator[Any]:
        """A database session; an error is raised to the caller, never an exit.

        Rasa's own ``session_scope`` turns *any* ``ValueError`` inside it
        (a ``UnicodeEncodeError`` from an odd sender id, say) into
        ``print_error_and_exit`` — one bad request would stop the server.
        """
        session = self.sessionmaker()
        try:
            ensure_schema_exists(session)
            yield session
        finally:
            session.close()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Rasa's store, plus the sender-id key (refused in production if a dev value)."""
        self._sender_key = sender_key()
        self._cache: "OrderedDict[str, _Stored]" = OrderedDict()
        self._cache_size = max(0, env_int(CACHE_SIZE_VARIABLE, _DEFAULT_CACHE_SIZE))
        super().__init__(*args, **kwargs)
        engine: sa.engine.Engine = self.engine  # type: ignore[has-type]
        if engine.dialect.name == "sqlite" and engine.url.database not in (
            None,
            "",
            ":memory:",
        ):
            self._use_pooled_wal_sqlite(engine)
        self._create_sender_index()
        rasa_speedups.install()  # this store is loaded by every Rasa server we run

    def _use_pooled_wal_sqlite(self, old: sa.engine.Engine) -> None:
        """Pooled connections with WAL and ``synchronous=NORMAL`` (file SQLite)."""
        url = old.url
        old.dispose()
        self.engine = sa.create_engine(
            url,
            poolclass=sa.pool.QueuePool,
            pool_size=5,
            max_overflow=5,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        sa.event.listen(self.engine, "connect", sqlite_pragmas_without_foreign_keys)

        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    def _create_sender_index(self) -> None:
        """``(sender_id, id)``: the newest-event lookup of every retrieve and save."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "CREATE INDEX IF NOT EXISTS ix_events_sender_id_id "
                        "ON events (sender_id, id)"
                    )
                )
        except sa.exc.SQLAlchemyError as error:  # another replica creating it
            logger.warning("Could not create the (sender_id, id) index: %s", error)

    def init_tracker(self, sender_id: Text) -> DialogueStateTracker:
        """A new (incremental) tracker, as Rasa's ``init_tracker``."""
        return IncrementalTracker(
            sender_id, self.domain.slots, max_event_history=self.max_event_history
        )

    def _newest_id(self, session: Any, stored_sender: str) -> Optional[int]:
        """The sender's newest row id (or None), twice a turn.

        A Core ``SELECT max(id) ... WHERE sender_id = ?``, built once: the ORM
        ``session.query`` form of the same statement cost 280 µs a call in
        Python against 35 µs for this one (the index lookup itself is cheap).
        """
        newest = session.execute(_NEWEST_ID, {"sender": stored_sender}).scalar()
        return int(newest) if newest is not None else None

    def _remember(self, stored_sender: str, entry: _Stored) -> None:
        if not self._cache_size:
            return
        self._cache[stored_sender] = entry
        self._cache.move_to_end(stored_sender)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        """Rasa's ``_retrieve``, answered from memory while nobody else wrote."""
        if fetch_events_from_all_sessions or not self.domain:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        stored_sender = stored_sender_id(sender_id, self._sender_key)
        with self.session_scope() as session:
            newest = self._newest_id(session, stored_sender)
            entry = self._cache.get(stored_sender)
            if entry is not None and newest == entry.last_id:
                self._cache.move_to_end(stored_sender)
                return copy_tracker(entry.tracker, sender_id)
            self._cache.pop(stored_sender, None)
            if newest is None:
                return None
            rows = (
                self._event_query(session, sender_id, False)
                .with_entities(self.SQLEvent.id, self.SQLEvent.data)
                .all()
            )
        if not rows:
            return None
        events = deserialise_events(json.loads(data) for _, data in rows)
        tracker = IncrementalTracker.from_events(sender_id, events, self.domain.slots)
        entry = _Stored(max(row_id for row_id, _ in rows), len(rows), tracker)
        self._remember(stored_sender, entry)
        return copy_tracker(tracker, sender_id)

    def _event_query(
        self, session: Any, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Any:
        return super()._event_query(
            session,
            stored_sender_id(sender_id, self._sender_key),
            fetch_events_from_all_sessions,
        )

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events that are new since the last save, redacted.

        Mirrors ``SQLTrackerStore.save`` (Rasa 3.6) with two changes: the event
        dict is redacted before it is serialised, and so is the sender id.
        Rasa's ``stream_events`` (which would publish the *unredacted* events
        before the write) is not called: with an event broker configured, the
        rows just written are published after the commit (:meth:`_publish`).
        """
        sender_id = stored_sender_id(tracker.sender_id, self._sender_key)
        entry = self._cache.pop(sender_id, None)
        with self.session_scope() as session:
            newest = self._newest_id(session, sender_id)
            known = (
                entry is not None
                and entry.last_id == newest
                and 0 < entry.count == len(entry.tracker.events) <= len(tracker.events)
                and tracker.events[entry.count - 1] is entry.tracker.events[-1]
            )
            if known:
                assert entry is not None
                new_events = list(tracker.events)[entry.count :]
            elif newest is None:
                # nothing stored for this sender: Rasa's count would be 0
                new_events = list(tracker.events)
            else:
                new_events = list(self._additional_events(session, tracker))
            stored: List[Event] = []
            rows = []
            for event in new_events:
                data = redacted_event_data(event)
                serialised = json.dumps(data)
                if known:
                    stored.append(self._as_stored(event, json.loads(serialised)))
                parse_data = data.get("parse_data")
                intent = (
                    parse_data.get("intent") if isinstance(parse_data, dict) else None
                )
                intent_name = (
                    intent.get(INTENT_NAME_KEY) if isinstance(intent, dict) else None
                )
                action_name = data.get("name")
                timestamp = data.get("timestamp")
                row = self.SQLEvent(
                    sender_id=sender_id,
                    type_name=event.type_name,
                    timestamp=timestamp if _is_number(timestamp) else None,
                    intent_name=intent_name if isinstance(intent_name, str) else None,
                    action_name=action_name if isinstance(action_name, str) else None,
                    data=serialised,
                )
                session.add(row)
                rows.append(row)
            session.flush()
            last_id = rows[-1].id if rows else newest
            written = [(int(row.id), row.data) for row in rows]
            session.commit()
        logger.debug("Tracker %s stored (redacted).", sender_id)
        if self.event_broker is not None and written:
            self._publish(sender_id, written)
        if (
            known
            and entry is not None
            and last_id is not None
            and not any(isinstance(e, SessionStarted) for e in stored)
            and all(_is_number(e.timestamp) for e in stored)
        ):
            for event in stored:
                entry.tracker.update(event)
            self._remember(
                sender_id,
                _Stored(int(last_id), entry.count + len(stored), entry.tracker),
            )

    def _publish(self, sender_id: str, written: List[Tuple[int, str]]) -> None:
        """Hand the rows just committed to the event broker, best effort.

        Each message is the stored JSON of one row, plus the stored sender id
        and the row id (``event_id``): the same redacted dict a database read
        gives, so a consumer can be idempotent (or re-read the row).  Our
        broker (``bot.event_broker``) takes them as they are; any other broker
        gets them through its ``publish``.  A broker error never fails the save:
        the database is the system of record.
        """
        broker = self.event_broker
        assert broker is not None
        publish = getattr(broker, "publish_stored", None) or broker.publish
        try:
            for row_id, serialised in written:
                body: Dict[str, Any] = {"sender_id": sender_id, "event_id": row_id}
                body.update(json.loads(serialised))
                body["sender_id"], body["event_id"] = sender_id, row_id
                publish(body)
        except Exception as error:  # noqa: BLE001 - best effort, see above
            logger.warning(
                "Could not hand events to the event broker (%s).", type(error).__name__
            )

    @staticmethod
    def _as_stored(event: Event, data: Dict[str, Any]) -> Event:
        """The event as a database read would give it back: ``event`` if unchanged.

        ``data`` is the stored JSON, decoded.

        Equal up to JSON (tuples stored as lists) counts as unchanged.  If only
        the metadata was redacted (Rasa's ``model_id`` can look like a
        code to the redactor), ``event`` gets the redacted metadata and is kept:
        the same object keeps the incremental dialogue states valid
        (bot/tracker.py).  Any other difference: the event is read back from
        its stored form.
        """
        try:
            original = event.as_dict()
            if data != original:  # tuples (token offsets) are lists once stored
                original = json.loads(json.dumps(original))
            if data == original:
                return event
            changed = {
                k for k in set(original) | set(data) if original.get(k) != data.get(k)
            }
            if changed == {"metadata"} and isinstance(data.get("metadata"), dict):
                event.metadata = json.loads(json.dumps(data["metadata"]))
                if json.loads(json.dumps(event.as_dict())) == data:
                    return event
        except Exception:  # noqa: BLE001 - read it back from the stored form
            pass
        events = deserialise_events([data])
        return events[0] if events else event
