"""Every query of the console, as plain functions taking a connection.

The conversation list pages by keyset (``(sort column, id) < cursor``), never
OFFSET, so page 1 000 costs what page 1 does at 100 000 conversations.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import (
    INTEGER,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Connection, Row

from console.models import (
    audit_log,
    console_state,
    conversation_tags,
    conversations,
    inbox_turns,
    intent_daily,
    notes,
    turn_flags,
)
from console.summarize import CHANNELS, LOCAL_TZ

PAGE_SIZE = 50
SORTS = {
    "last": conversations.c.last_at,
    "started": conversations.c.started_at,
    "turns": conversations.c.turns,
}
YES_NO = ("yes", "no")
MAX_TAG = 64
MAX_NOTE = 4000
RETENTION_KEY = "retention_days"


@dataclass(frozen=True)
class ListFilters:
    """What the conversation list shows; every field is a URL query parameter."""

    channel: str = ""
    language: str = ""
    fallback: str = ""
    handoff: str = ""
    verified: str = ""
    review: str = ""
    tag: str = ""
    date_from: str = ""
    date_to: str = ""
    q: str = ""
    sort: str = "last"
    order: str = "desc"
    cursor: str = ""

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> "ListFilters":
        """Filters from the query string, dropping any value outside the allowed
        sets."""

        def pick(name: str, allowed: Sequence[str]) -> str:
            value = (args.get(name) or "").strip()
            return value if value in allowed else ""

        def day(name: str) -> str:
            value = (args.get(name) or "").strip()
            try:
                return date.fromisoformat(value).isoformat() if value else ""
            except ValueError:
                return ""

        return cls(
            channel=pick("channel", (*CHANNELS, "other")),
            language=pick("language", ("en", "zh")),
            fallback=pick("fallback", YES_NO),
            handoff=pick("handoff", YES_NO),
            verified=pick("verified", YES_NO),
            review=pick("review", ("new", "reviewed")),
            tag=(args.get("tag") or "").strip()[:MAX_TAG],
            date_from=day("from"),
            date_to=day("to"),
            q=(args.get("q") or "").strip()[:200],
            sort=pick("sort", tuple(SORTS)) or "last",
            order=pick("order", ("asc", "desc")) or "desc",
            cursor=(args.get("cursor") or "").strip()[:64],
        )

    def query(self, **changes: str) -> Dict[str, str]:
        """The URL parameters of these filters (with ``changes``), empty ones left out."""
        current = replace(self, **changes) if changes else self
        names = {"date_from": "from", "date_to": "to"}
        out: Dict[str, str] = {}
        for key, value in current.__dict__.items():
            if (
                value
                and not (key == "sort" and value == "last")
                and not (key == "order" and value == "desc")
            ):
                out[names.get(key, key)] = value
        return out


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_conversations(
    connection: Connection, filters: ListFilters, limit: int = PAGE_SIZE
) -> Tuple[List[Row], Optional[str]]:
    """One page of summaries and the cursor of the next page (None at the end)."""
    c = conversations.c
    sort_column = SORTS[filters.sort]
    conditions: List[Any] = []
    if filters.channel:
        conditions.append(c.channel == filters.channel)
    if filters.language:
        conditions.append(c.language == filters.language)
    for name, column in (
        ("fallback", c.had_fallback),
        ("handoff", c.handoff_requested),
        ("verified", c.verified_inquiry),
    ):
        value = getattr(filters, name)
        if value:
            conditions.append(column.is_(value == "yes"))
    if filters.review:
        conditions.append(c.review_status == filters.review)
    if filters.date_from:
        conditions.append(c.started_day >= filters.date_from)
    if filters.date_to:
        conditions.append(c.started_day <= filters.date_to)
    if filters.tag:
        conditions.append(
            exists().where(
                and_(
                    conversation_tags.c.conversation_id == c.id,
                    conversation_tags.c.tag == filters.tag,
                )
            )
        )
    if filters.q:
        conditions.append(c.search_text.like(_like_pattern(filters.q), escape="\\"))
    cursor = _parse_cursor(filters.cursor, filters.sort)
    descending = filters.order == "desc"
    if cursor is not None:
        key = tuple_(sort_column, c.id)
        bound = tuple_(*cursor)
        conditions.append(key < bound if descending else key > bound)
    columns = [
        c.id,
        c.sender_id,
        c.channel,
        c.started_at,
        c.last_at,
        c.language,
        c.turns,
        c.had_fallback,
        c.handoff_requested,
        c.verified_inquiry,
        c.review_status,
        c.tags,
        c.followup_status,
    ]
    ordering = [sort_column.desc(), c.id.desc()] if descending else [sort_column, c.id]
    query = select(*columns).where(*conditions).order_by(*ordering).limit(limit + 1)
    rows = list(connection.execute(query))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = f"{getattr(last, _sort_attr(filters.sort))!r}:{last.id}"
    return rows, next_cursor


def _sort_attr(sort: str) -> str:
    return {"last": "last_at", "started": "started_at", "turns": "turns"}[sort]


def _parse_cursor(cursor: str, sort: str) -> Optional[Tuple[float, int]]:
    if not cursor or ":" not in cursor:
        return None
    value, _, row_id = cursor.rpartition(":")
    try:
        number: float = int(value) if sort == "turns" else float(value)
        return number, int(row_id)
    except ValueError:
        return None


# ---- one conversation --------------------------------------------------------


def get_conversation(connection: Connection, sender_id: str) -> Optional[Row]:
    """The summary row of one conversation, or ``None``."""
    return connection.execute(
        select(conversations).where(conversations.c.sender_id == sender_id)
    ).first()


def conversation_annotations(
    connection: Connection, conversation_id: int
) -> Dict[str, Any]:
    """Tags, notes and flags of one conversation, for the transcript page."""
    tags = [
        row.tag
        for row in connection.execute(
            select(conversation_tags.c.tag)
            .where(conversation_tags.c.conversation_id == conversation_id)
            .order_by(conversation_tags.c.tag)
        )
    ]
    note_rows = list(
        connection.execute(
            select(notes)
            .where(notes.c.conversation_id == conversation_id)
            .order_by(notes.c.created_at)
        )
    )
    flags = {
        row.event_id: row
        for row in connection.execute(
            select(turn_flags).where(turn_flags.c.conversation_id == conversation_id)
        )
    }
    return {"tags": tags, "notes": note_rows, "flags": flags}


def add_audit(
    connection: Connection,
    staff: str,
    action: str,
    sender_id: Optional[str] = None,
    detail: Any = "",
    now: Optional[float] = None,
) -> None:
    """Append one audit entry (call it inside the transaction of the change)."""
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    connection.execute(
        insert(audit_log).values(
            at=now or time.time(),
            staff=staff,
            action=action,
            sender_id=sender_id,
            detail=text[:2000],
        )
    )


def clean_tag(tag: str) -> str:
    """Collapse whitespace and cap the length, so tags stay comparable."""
    return " ".join(tag.split())[:MAX_TAG]


def set_tags(
    connection: Connection, conversation_id: int, tags: Sequence[str]
) -> List[str]:
    """Replace the conversation's tags; returns the cleaned set kept."""
    wanted = sorted({clean_tag(t) for t in tags if clean_tag(t)})[:20]
    connection.execute(
        delete(conversation_tags).where(
            conversation_tags.c.conversation_id == conversation_id
        )
    )
    for tag in wanted:
        connection.execute(
            insert(conversation_tags).values(conversation_id=conversation_id, tag=tag)
        )
    connection.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(tags=",".join(wanted)[:512])
    )
    return wanted


def add_note(
    connection: Connection, conversation_id: int, staff: str, body: str
) -> None:
    """Attach a staff note, capped in length."""
    connection.execute(
        insert(notes).values(
            conversation_id=conversation_id,
            staff=staff,
            body=body[:MAX_NOTE],
            created_at=time.time(),
        )
    )


def flag_turn(
    connection: Connection,
    conversation_id: int,
    event_id: int,
    text: str,
    predicted: Optional[str],
    correct: str,
    staff: str,
) -> None:
    """Record that a user turn's intent was wrong (or replace the correction)."""
    connection.execute(
        delete(turn_flags).where(
            turn_flags.c.conversation_id == conversation_id,
            turn_flags.c.event_id == event_id,
        )
    )
    connection.execute(
        insert(turn_flags).values(
            conversation_id=conversation_id,
            event_id=event_id,
            text=text,
            predicted_intent=predicted,
            correct_intent=correct,
            staff=staff,
            created_at=time.time(),
        )
    )
    connection.execute(
        update(inbox_turns)
        .where(inbox_turns.c.event_id == event_id)
        .values(status="relabelled")
    )


def set_review_status(
    connection: Connection, conversation_id: int, status: str
) -> None:
    """Mark a conversation new or reviewed for the review queue."""
    connection.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(review_status=status)
    )


# ---- audit -------------------------------------------------------------------


def audit_entries(
    connection: Connection,
    staff: str = "",
    action: str = "",
    sender_id: str = "",
    before_id: Optional[int] = None,
    limit: int = 100,
) -> List[Row]:
    """Audit log page, newest first, filtered and paged by id."""
    conditions = []
    if staff:
        conditions.append(audit_log.c.staff == staff)
    if action:
        conditions.append(audit_log.c.action == action)
    if sender_id:
        conditions.append(audit_log.c.sender_id == sender_id)
    if before_id:
        conditions.append(audit_log.c.id < before_id)
    return list(
        connection.execute(
            select(audit_log)
            .where(*conditions)
            .order_by(audit_log.c.id.desc())
            .limit(limit)
        )
    )


# ---- NLU inbox ---------------------------------------------------------------


def inbox(connection: Connection, limit: int = 100) -> List[Row]:
    """Open low-confidence / fallback user turns, newest first."""
    return list(
        connection.execute(
            select(
                inbox_turns.c.id,
                inbox_turns.c.event_id,
                inbox_turns.c.text,
                inbox_turns.c.intent,
                inbox_turns.c.confidence,
                inbox_turns.c.at,
                conversations.c.sender_id,
                conversations.c.id.label("conversation_id"),
            )
            .join(conversations, conversations.c.id == inbox_turns.c.conversation_id)
            .where(inbox_turns.c.status == "open")
            .order_by(inbox_turns.c.at.desc())
            .limit(limit)
        )
    )


def inbox_item(connection: Connection, item_id: int) -> Optional[Row]:
    """One inbox item with its conversation's sender id, or ``None``."""
    return connection.execute(
        select(inbox_turns, conversations.c.sender_id)
        .join(conversations, conversations.c.id == inbox_turns.c.conversation_id)
        .where(inbox_turns.c.id == item_id)
    ).first()


def dismiss_inbox_item(connection: Connection, item_id: int) -> None:
    """Take an item off the inbox without relabelling it."""
    connection.execute(
        update(inbox_turns)
        .where(inbox_turns.c.id == item_id)
        .values(status="dismissed")
    )


def corrected_turns(connection: Connection) -> List[Row]:
    """Every flagged turn with its correct intent (the NLU export)."""
    return list(
        connection.execute(
            select(turn_flags.c.text, turn_flags.c.correct_intent).order_by(
                turn_flags.c.correct_intent, turn_flags.c.id
            )
        )
    )


def recent_flags(connection: Connection, limit: int = 50) -> List[Row]:
    """The latest flagged turns, shown beside the inbox."""
    return list(
        connection.execute(
            select(turn_flags, conversations.c.sender_id)
            .join(conversations, conversations.c.id == turn_flags.c.conversation_id)
            .order_by(turn_flags.c.id.desc())
            .limit(limit)
        )
    )


# ---- follow-ups --------------------------------------------------------------


def followup_queue(connection: Connection, include_closed: bool = False) -> List[Row]:
    """Handoffs waiting for a person, oldest first."""
    statuses = ["open", "claimed"] + (["closed"] if include_closed else [])
    return list(
        connection.execute(
            select(conversations)
            .where(conversations.c.followup_status.in_(statuses))
            .order_by(conversations.c.handoff_at)
            .limit(200)
        )
    )


def claim_followup(connection: Connection, conversation_id: int, staff: str) -> bool:
    """Claim an open follow-up; ``False`` when someone else got there first."""
    result = connection.execute(
        update(conversations)
        .where(
            conversations.c.id == conversation_id,
            conversations.c.followup_status == "open",
        )
        .values(followup_status="claimed", claimed_by=staff, claimed_at=time.time())
    )
    return bool(result.rowcount)


def close_followup(connection: Connection, conversation_id: int, outcome: str) -> bool:
    """Close a follow-up with its outcome; ``False`` if it was already closed."""
    result = connection.execute(
        update(conversations)
        .where(
            conversations.c.id == conversation_id,
            conversations.c.followup_status.in_(["open", "claimed"]),
        )
        .values(
            followup_status="closed",
            closed_at=time.time(),
            followup_outcome=outcome[:MAX_NOTE],
        )
    )
    return bool(result.rowcount)


# ---- dashboard ---------------------------------------------------------------


@dataclass
class Dashboard:
    """The dashboard's figures for a period of days."""

    day_from: str
    day_to: str
    days: List[str]
    per_day: Dict[str, Dict[str, int]] = field(default_factory=dict)
    total: int = 0
    with_fallback: int = 0
    with_handoff: int = 0
    top_intents: List[Tuple[str, int]] = field(default_factory=list)
    mean_wait_seconds: Optional[float] = None
    open_followups: int = 0
    # residents' end-of-chat feedback: how many rated 1..5, and the yes/no answers
    ratings: Dict[int, int] = field(default_factory=dict)
    answered_yes: int = 0
    answered_no: int = 0

    @property
    def rated(self) -> int:
        """How many conversations of the period carry a rating."""
        return sum(self.ratings.values())

    @property
    def mean_rating(self) -> Optional[float]:
        """The residents' mean rating (1-5) over the rated conversations."""
        return (
            sum(k * v for k, v in self.ratings.items()) / self.rated
            if self.rated
            else None
        )

    @property
    def answered_rate(self) -> Optional[float]:
        """Share of residents who said they got an answer."""
        given = self.answered_yes + self.answered_no
        return self.answered_yes / given if given else None

    @property
    def containment_rate(self) -> Optional[float]:
        """Share of conversations the bot finished without a handoff."""
        return (self.total - self.with_handoff) / self.total if self.total else None

    @property
    def fallback_rate(self) -> Optional[float]:
        """Share of conversations in which the bot fell back at least once."""
        return self.with_fallback / self.total if self.total else None


def today_local() -> date:
    """Today in the service's time zone, which is what the dashboard's days mean."""
    return datetime.now(LOCAL_TZ).date()


def day_range(day_from: str, day_to: str) -> List[str]:
    """Every day from ``day_from`` to ``day_to`` inclusive, capped at a year."""
    start, end = date.fromisoformat(day_from), date.fromisoformat(day_to)
    if end < start:
        start, end = end, start
    span = min((end - start).days, 366)
    return [(start + timedelta(days=i)).isoformat() for i in range(span + 1)]


def dashboard(connection: Connection, day_from: str, day_to: str) -> Dashboard:
    """Aggregate the summaries of the period into the dashboard's figures."""
    days = day_range(day_from, day_to)
    board = Dashboard(days[0], days[-1], days)
    c = conversations.c
    in_period = and_(c.started_day >= board.day_from, c.started_day <= board.day_to)
    rows = connection.execute(
        select(
            c.started_day,
            c.channel,
            func.count(),
            func.sum(func.cast(c.had_fallback, INTEGER)),
            func.sum(func.cast(c.handoff_requested, INTEGER)),
        )
        .where(in_period)
        .group_by(c.started_day, c.channel)
    )
    for day, channel, count, fallbacks, handoffs in rows:
        board.per_day.setdefault(day, {})[channel] = int(count)
        board.total += int(count)
        board.with_fallback += int(fallbacks or 0)
        board.with_handoff += int(handoffs or 0)
    board.top_intents = [
        (row.intent, int(row.total))
        for row in connection.execute(
            select(intent_daily.c.intent, func.sum(intent_daily.c.count).label("total"))
            .where(
                intent_daily.c.day >= board.day_from, intent_daily.c.day <= board.day_to
            )
            .group_by(intent_daily.c.intent)
            .order_by(func.sum(intent_daily.c.count).desc())
            .limit(10)
        )
    ]
    wait = connection.execute(
        select(func.avg(c.claimed_at - c.handoff_at)).where(
            in_period, c.claimed_at.is_not(None), c.handoff_at.is_not(None)
        )
    ).scalar()
    board.mean_wait_seconds = float(wait) if wait is not None else None
    for rating, count in connection.execute(
        select(c.rating, func.count())
        .where(in_period, c.rating.is_not(None))
        .group_by(c.rating)
    ):
        board.ratings[int(rating)] = int(count)
    for answered, count in connection.execute(
        select(c.answered, func.count())
        .where(in_period, c.answered.is_not(None))
        .group_by(c.answered)
    ):
        if answered:
            board.answered_yes = int(count)
        else:
            board.answered_no = int(count)
    board.open_followups = int(
        connection.execute(
            select(func.count()).where(c.followup_status == "open")
        ).scalar()
        or 0
    )
    return board


# ---- retention ---------------------------------------------------------------


def retention_days(connection: Connection) -> Optional[int]:
    """The configured retention in days, or ``None`` when data is kept indefinitely."""
    value = connection.execute(
        select(console_state.c.value).where(console_state.c.key == RETENTION_KEY)
    ).scalar()
    return int(value) if value else None


def set_retention_days(connection: Connection, days: int) -> None:
    """Store the retention period an admin chose."""
    found = connection.execute(
        select(console_state.c.key).where(console_state.c.key == RETENTION_KEY)
    ).first()
    if found is None:
        connection.execute(
            insert(console_state).values(key=RETENTION_KEY, value=str(days))
        )
    else:
        connection.execute(
            update(console_state)
            .where(console_state.c.key == RETENTION_KEY)
            .values(value=str(days))
        )


def expired_conversations(
    connection: Connection, cutoff: float
) -> List[Tuple[int, str]]:
    """Conversations last active before ``cutoff``, for retention."""
    return [
        (row.id, row.sender_id)
        for row in connection.execute(
            select(conversations.c.id, conversations.c.sender_id).where(
                conversations.c.last_at < cutoff
            )
        )
    ]


def delete_conversations(connection: Connection, ids: Sequence[int]) -> Dict[str, int]:
    """Delete summaries and every annotation of them; returns counts per table."""
    counts = {"notes": 0, "tags": 0, "flags": 0, "inbox": 0, "summaries": 0}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for key, table, column in (
            ("notes", notes, notes.c.conversation_id),
            ("tags", conversation_tags, conversation_tags.c.conversation_id),
            ("flags", turn_flags, turn_flags.c.conversation_id),
            ("inbox", inbox_turns, inbox_turns.c.conversation_id),
            ("summaries", conversations, conversations.c.id),
        ):
            result = connection.execute(delete(table).where(column.in_(chunk)))
            counts[key] += int(result.rowcount or 0)
    return counts


def delete_daily_before(connection: Connection, day: str) -> int:
    """Drop daily intent counts older than ``day``, for retention."""
    return int(
        connection.execute(
            delete(intent_daily).where(intent_daily.c.day < day)
        ).rowcount
        or 0
    )


def conversation_ids(
    connection: Connection, sender_ids: Sequence[str]
) -> Dict[str, int]:
    """Map the known sender ids to conversation ids, ignoring unknown ones."""
    return {
        row.sender_id: row.id
        for row in connection.execute(
            select(conversations.c.id, conversations.c.sender_id).where(
                conversations.c.sender_id.in_(list(sender_ids))
            )
        )
    }
