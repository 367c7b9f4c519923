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

A sender id that itself contains personal data (a phone number used as the
id) is stored as ``redacted:<keyed hash>`` (HMAC-SHA256 with
``SHEBAO_TRACKER_SENDER_KEY``), so the same conversation is still found.

Configured in ``endpoints.yml``:

    tracker_store:
      type: bot.tracker_store.RedactingSQLTrackerStore
      url: ${SHEBAO_TRACKER_URL}     # sqlite:////abs/path.sqlite3 or postgresql://...
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
from typing import Any, Dict, Iterator

from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from common.deployment import require_production_secret
from common.env import env_str
from common.redaction import FAILED, redact_text, redact_value
from common.tokens import as_bytes

logger = logging.getLogger(__name__)

SENDER_KEY_VARIABLE = "SHEBAO_TRACKER_SENDER_KEY"
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
        key = env_str(SENDER_KEY_VARIABLE, _DEV_SENDER_KEY)
        require_production_secret(SENDER_KEY_VARIABLE, key, (_DEV_SENDER_KEY,))
        self._sender_key = key.encode("utf-8")
        super().__init__(*args, **kwargs)

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
        dict is redacted before it is serialised, and so is the sender id.  No
        event broker is used, so nothing else sees unredacted events.
        """
        sender_id = stored_sender_id(tracker.sender_id, self._sender_key)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = redacted_event_data(event)
                parse_data = data.get("parse_data")
                intent = (
                    parse_data.get("intent") if isinstance(parse_data, dict) else None
                )
                intent_name = (
                    intent.get(INTENT_NAME_KEY) if isinstance(intent, dict) else None
                )
                action_name = data.get("name")
                timestamp = data.get("timestamp")
                session.add(
                    self.SQLEvent(
                        sender_id=sender_id,
                        type_name=event.type_name,
                        timestamp=timestamp if _is_number(timestamp) else None,
                        intent_name=intent_name
                        if isinstance(intent_name, str)
                        else None,
                        action_name=action_name
                        if isinstance(action_name, str)
                        else None,
                        data=json.dumps(data),
                    )
                )
            session.commit()
        logger.debug("Tracker %s stored (redacted).", sender_id)
