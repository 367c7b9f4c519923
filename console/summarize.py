"""Keep ``conversation_summaries`` up to date from the tracker events.

Reads the event source incrementally by event id (the high-water mark lives in
``console_state`` and moves in the same transaction as the summaries it
produced, so a crash never counts an event twice or skips one).  The console
runs :meth:`Summarizer.run_once` every ``CONSOLE_SUMMARY_INTERVAL`` seconds;
``python -m console summarize`` runs it until the source is drained.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from console.db import Database
from console.events import EventSource, StoredEvent
from console.models import console_state, conversations, inbox_turns, intent_daily

LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
HWM_KEY = "summary_high_water_mark"
FALLBACK_INTENTS = frozenset({"nlu_fallback"})
FALLBACK_ACTIONS = frozenset({"utter_default", "action_default_fallback"})
CHANNELS = ("rest", "web", "wechat")
SEARCH_TEXT_LIMIT = 4000
# What the summarizer writes on update; review status, tags and follow-up
# handling belong to staff and are never overwritten from events.
OWNED_COLUMNS = (
    "started_at",
    "last_at",
    "started_day",
    "language",
    "turns",
    "had_fallback",
    "handoff_requested",
    "handoff_at",
    "verified_inquiry",
    "inquiry_outcome",
    "rating",
    "answered",
    "search_text",
    "last_event_id",
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def local_day(timestamp: float) -> str:
    """The calendar day in the service's time zone, the unit of the dashboard."""
    return datetime.fromtimestamp(timestamp, LOCAL_TZ).date().isoformat()


def channel_of(sender_id: str) -> str:
    """``rest``, ``web`` or ``wechat`` from the sender prefix; ``other`` otherwise."""
    prefix = sender_id.split(":", 1)[0] if ":" in sender_id else ""
    return prefix if prefix in CHANNELS else "other"


def user_intent(data: Dict[str, Any]) -> Tuple[Optional[str], Optional[float]]:
    """The predicted intent and its confidence of a ``user`` event, if any."""
    intent = (data.get("parse_data") or {}).get("intent") or {}
    name = intent.get("name")
    confidence = intent.get("confidence")
    return (
        str(name) if name else None,
        float(confidence) if confidence is not None else None,
    )


def is_fallback_event(event: StoredEvent) -> bool:
    """Whether the event shows the bot falling back (intent, action or utterance)."""
    data = event.data
    if event.type_name == "user":
        return user_intent(data)[0] in FALLBACK_INTENTS
    if event.type_name == "action":
        return data.get("name") in FALLBACK_ACTIONS
    if event.type_name == "bot":
        return (data.get("metadata") or {}).get("utter_action") in FALLBACK_ACTIONS
    return False


@dataclass
class _Summary:
    row_id: Optional[int]
    values: Dict[str, Any]
    changed: bool = False


def _new_summary(event: StoredEvent) -> Dict[str, Any]:
    return {
        "sender_id": event.sender_id,
        "channel": channel_of(event.sender_id),
        "started_at": event.timestamp,
        "last_at": event.timestamp,
        "started_day": local_day(event.timestamp),
        "language": "",
        "turns": 0,
        "had_fallback": False,
        "handoff_requested": False,
        "handoff_at": None,
        "verified_inquiry": False,
        "inquiry_outcome": None,
        "rating": None,
        "answered": None,
        "search_text": "",
        "followup_status": "none",
        "last_event_id": 0,
    }


class Summarizer:
    """Folds new tracker events into the console's summary table."""

    def __init__(
        self,
        db: Database,
        source: EventSource,
        low_confidence: float = 0.6,
        batch_size: int = 2000,
    ) -> None:
        self.db = db
        self.source = source
        self.low_confidence = low_confidence
        self.batch_size = batch_size

    def high_water_mark(self, connection: Connection) -> int:
        """The id of the last event folded in, so a restart resumes where it stopped."""
        value = connection.execute(
            select(console_state.c.value).where(console_state.c.key == HWM_KEY)
        ).scalar()
        return int(value) if value else 0

    def run_once(self) -> int:
        """Process one batch; returns the number of events consumed."""
        hwm = self.db.run_sync(self.high_water_mark)
        newest = self.source.max_id()
        if newest < hwm:
            # Events were deleted (retention) and SQLite will hand out their ids
            # again: every id up to ``newest`` was already seen, so restart there.
            self.db.run_sync(lambda c: self._set_hwm(c, newest))
            hwm = newest
        events = self.source.read_after(hwm, self.batch_size)
        if not events:
            return 0
        self.db.run_sync(lambda c: self._apply(c, hwm, events))
        return len(events)

    def run_until_drained(self) -> int:
        """Process batches until caught up; returns the number of events consumed."""
        total = 0
        while True:
            consumed = self.run_once()
            total += consumed
            if consumed < self.batch_size:
                return total

    def _apply(
        self, connection: Connection, hwm: int, events: List[StoredEvent]
    ) -> None:
        current = self.high_water_mark(connection)
        if current != hwm:  # another summarizer got there first
            events = [e for e in events if e.id > current]
            if not events:
                return
        by_sender: "OrderedDict[str, List[StoredEvent]]" = OrderedDict()
        for event in events:
            by_sender.setdefault(event.sender_id, []).append(event)
        existing = {
            row.sender_id: row
            for row in connection.execute(
                select(conversations).where(
                    conversations.c.sender_id.in_(list(by_sender))
                )
            )
        }
        daily: Dict[Tuple[str, str], int] = {}
        new_rows: List[Dict[str, Any]] = []
        changed_rows: List[Dict[str, Any]] = []
        opened: List[int] = []
        inbox_by_sender: Dict[str, List[Dict[str, Any]]] = {}
        for sender_id, sender_events in by_sender.items():
            row = existing.get(sender_id)
            if row is None:
                summary = _Summary(None, _new_summary(sender_events[0]))
            else:
                summary = _Summary(row.id, dict(row._mapping))
            before = summary.values.get("followup_status")
            inbox = self._fold(summary, sender_events, daily)
            if inbox:
                inbox_by_sender[sender_id] = inbox
            if summary.row_id is None:
                values = {k: v for k, v in summary.values.items() if k != "id"}
                values.update(review_status="new", tags="")
                new_rows.append(values)
            elif summary.changed:
                changed = {k: summary.values[k] for k in OWNED_COLUMNS}
                changed["_id"] = summary.row_id
                changed_rows.append(changed)
                if before == "none" and summary.values["followup_status"] == "open":
                    opened.append(summary.row_id)
        if new_rows:
            connection.execute(insert(conversations), new_rows)
        if changed_rows:
            connection.execute(
                update(conversations)
                .where(conversations.c.id == bindparam("_id"))
                .values({name: bindparam(name) for name in OWNED_COLUMNS}),
                changed_rows,
            )
        if opened:
            # only from "none": never undo a claim staff made meanwhile
            connection.execute(
                update(conversations)
                .where(
                    conversations.c.id.in_(opened),
                    conversations.c.followup_status == "none",
                )
                .values(followup_status="open")
            )
        if inbox_by_sender:
            self._add_inbox(connection, inbox_by_sender)
        self._add_daily(connection, daily)
        self._set_hwm(connection, events[-1].id)

    @staticmethod
    def _add_inbox(
        connection: Connection, by_sender: Dict[str, List[Dict[str, Any]]]
    ) -> None:
        ids = {
            row.sender_id: row.id
            for row in connection.execute(
                select(conversations.c.id, conversations.c.sender_id).where(
                    conversations.c.sender_id.in_(list(by_sender))
                )
            )
        }
        items = [
            {**item, "conversation_id": ids[sender], "status": "open"}
            for sender, sender_items in by_sender.items()
            for item in sender_items
        ]
        seen = {
            row.event_id
            for row in connection.execute(
                select(inbox_turns.c.event_id).where(
                    inbox_turns.c.event_id.in_([i["event_id"] for i in items])
                )
            )
        }
        fresh = [item for item in items if item["event_id"] not in seen]
        if fresh:
            connection.execute(insert(inbox_turns), fresh)

    @staticmethod
    def _set_hwm(connection: Connection, value: int) -> None:
        found = connection.execute(
            select(console_state.c.key).where(console_state.c.key == HWM_KEY)
        ).first()
        if found is None:
            connection.execute(
                insert(console_state).values(key=HWM_KEY, value=str(value))
            )
        else:
            connection.execute(
                update(console_state)
                .where(console_state.c.key == HWM_KEY)
                .values(value=str(value))
            )

    def _fold(
        self,
        summary: _Summary,
        events: List[StoredEvent],
        daily: Dict[Tuple[str, str], int],
    ) -> List[Dict[str, Any]]:
        values = summary.values
        inbox: List[Dict[str, Any]] = []
        texts: List[str] = []
        for event in events:
            if event.id <= int(values.get("last_event_id") or 0):
                continue
            summary.changed = True
            values["last_event_id"] = event.id
            if event.timestamp:
                if event.timestamp < values["started_at"]:
                    values["started_at"] = event.timestamp
                    values["started_day"] = local_day(event.timestamp)
                values["last_at"] = max(values["last_at"], event.timestamp)
            data = event.data
            if is_fallback_event(event):
                values["had_fallback"] = True
            if event.type_name == "user":
                text = str(data.get("text") or "")
                if text.startswith("/"):
                    continue  # a button payload or the language switch, not typed
                values["turns"] = int(values["turns"] or 0) + 1
                texts.append(text)
                if not values.get("language"):
                    values["language"] = "zh" if _CJK.search(text) else "en"
                intent, confidence = user_intent(data)
                if intent:
                    key = (local_day(event.timestamp or values["last_at"]), intent)
                    daily[key] = daily.get(key, 0) + 1
                low = confidence is not None and confidence < self.low_confidence
                if intent in FALLBACK_INTENTS or low:
                    inbox.append(
                        {
                            "event_id": event.id,
                            "text": text,
                            "intent": intent,
                            "confidence": confidence,
                            "at": event.timestamp,
                        }
                    )
            elif event.type_name == "slot":
                name, value = data.get("name"), data.get("value")
                if name == "language" and value in ("en", "zh"):
                    values["language"] = value
                elif name == "handoff_requested" and value is True:
                    if not values["handoff_requested"]:
                        values["handoff_requested"] = True
                        values["handoff_at"] = event.timestamp
                        if values.get("followup_status", "none") == "none":
                            values["followup_status"] = "open"
                elif name == "feedback_rating" and isinstance(value, (int, float)):
                    if 1 <= value <= 5:
                        values["rating"] = int(round(value))
                elif name == "feedback_answered" and isinstance(value, bool):
                    values["answered"] = value
                elif name == "inquiry_outcome" and value:
                    values["verified_inquiry"] = True
                    values["inquiry_outcome"] = str(value)[:32]
        if texts:
            joined = " ".join([values.get("search_text") or "", *texts]).strip()
            values["search_text"] = joined.lower()[:SEARCH_TEXT_LIMIT]
        if not values.get("language"):
            values["language"] = "en"
        return inbox

    @staticmethod
    def _add_daily(connection: Connection, daily: Dict[Tuple[str, str], int]) -> None:
        for (day, intent), count in daily.items():
            where = and_(intent_daily.c.day == day, intent_daily.c.intent == intent)
            found = connection.execute(
                select(intent_daily.c.count).where(where)
            ).first()
            if found is None:
                connection.execute(
                    insert(intent_daily).values(day=day, intent=intent, count=count)
                )
            else:
                connection.execute(
                    update(intent_daily)
                    .where(where)
                    .values(count=intent_daily.c.count + count)
                )
