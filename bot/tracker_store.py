"""Rasa's SQL tracker store, with personal data masked before it is written.

Transcripts are for support staff; they must never hold a resident ID number,
a verification code or a phone number.  Every event is passed through
:func:`common.redaction.redact_value` (user texts, slot values, entities, parse
data, bot texts) before it is persisted, so neither the database nor Rasa's
``/conversations/<id>/tracker`` API (which reads the store) can show them.

Configured in ``endpoints.yml``:

    tracker_store:
      type: bot.tracker_store.RedactingSQLTrackerStore
      url: ${SHEBAO_TRACKER_URL}     # sqlite:////abs/path.sqlite3 or postgresql://...
"""

from __future__ import annotations

import json
import logging

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from common.redaction import redact_value

logger = logging.getLogger(__name__)


class RedactingSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose stored events are redacted."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events that are new since the last save, redacted.

        Mirrors ``SQLTrackerStore.save`` (Rasa 3.6) with one change: the event
        dict is redacted before it is serialised.  No event broker is used, so
        nothing else sees unredacted events.
        """
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = redact_value(event.as_dict())
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
        logger.debug("Tracker %s stored (redacted).", tracker.sender_id)
