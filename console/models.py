"""The console's tables (SQLAlchemy Core).

Times are Unix seconds (floats, as Rasa stores them); ``started_day`` is the
bureau's local date (UTC+8) of a conversation's first event, for per-day charts.
Every filter of the conversation list has an index ending in ``(last_at, id)``,
the keyset of the default sort.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ROLES = ("reviewer", "admin")
REVIEW_STATUSES = ("new", "reviewed")
FOLLOWUP_STATUSES = ("none", "open", "claimed", "closed")

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    # sha256 of the cookie value: a database read does not yield a live session
    Column("token_hash", String(64), primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff.id", ondelete="CASCADE")),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
)

login_throttle = Table(
    "login_throttle",
    metadata,
    # keyed by the name typed, known or not, so lock-out reveals no accounts
    Column("username", String(64), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=False, default=0.0),
)

conversations = Table(
    "conversation_summaries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("started_day", String(10), nullable=False),
    Column("language", String(8), nullable=False, default="en"),
    Column("turns", Integer, nullable=False, default=0),
    Column("had_fallback", Boolean, nullable=False, default=False),
    Column("handoff_requested", Boolean, nullable=False, default=False),
    Column("handoff_at", Float),
    Column("verified_inquiry", Boolean, nullable=False, default=False),
    Column("inquiry_outcome", String(32)),
    # the resident's end-of-chat feedback from the widget, when given
    Column("rating", Integer),
    Column("answered", Boolean),
    Column("review_status", String(16), nullable=False, default="new"),
    Column("tags", String(512), nullable=False, default=""),
    # masked user texts, lower-cased, for the text search
    Column("search_text", Text, nullable=False, default=""),
    Column("followup_status", String(16), nullable=False, default="none"),
    Column("claimed_by", String(64)),
    Column("claimed_at", Float),
    Column("closed_at", Float),
    Column("followup_outcome", Text),
    Column("last_event_id", Integer, nullable=False, default=0),
    Index("ix_conv_last", "last_at", "id"),
    Index("ix_conv_started", "started_at", "id"),
    Index("ix_conv_turns", "turns", "id"),
    Index("ix_conv_channel", "channel", "last_at", "id"),
    Index("ix_conv_language", "language", "last_at", "id"),
    Index("ix_conv_fallback", "had_fallback", "last_at", "id"),
    Index("ix_conv_handoff", "handoff_requested", "last_at", "id"),
    Index("ix_conv_verified", "verified_inquiry", "last_at", "id"),
    Index("ix_conv_review", "review_status", "last_at", "id"),
    Index("ix_conv_followup", "followup_status", "handoff_at"),
    Index(
        "ix_conv_day",
        "started_day",
        "channel",
        "had_fallback",
        "handoff_requested",
        "turns",
    ),
)

conversation_tags = Table(
    "conversation_tags",
    metadata,
    Column(
        "conversation_id",
        Integer,
        ForeignKey("conversation_summaries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag", String(64), primary_key=True),
    Index("ix_tag", "tag", "conversation_id"),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "conversation_id",
        Integer,
        ForeignKey("conversation_summaries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("staff", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

turn_flags = Table(
    "turn_flags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "conversation_id",
        Integer,
        ForeignKey("conversation_summaries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("event_id", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("predicted_intent", String(128)),
    Column("correct_intent", String(128), nullable=False),
    Column("staff", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("conversation_id", "event_id", name="uq_flag_turn"),
)

inbox_turns = Table(
    "inbox_turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "conversation_id",
        Integer,
        ForeignKey("conversation_summaries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Integer, nullable=False, unique=True),
    Column("text", Text, nullable=False),
    Column("intent", String(128)),
    Column("confidence", Float),
    Column("at", Float, nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Index("ix_inbox_status", "status", "at"),
)

intent_daily = Table(
    "intent_daily",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("intent", String(128), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("staff", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("sender_id", String(255)),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_at", "at"),
    Index("ix_audit_staff", "staff", "at"),
    Index("ix_audit_sender", "sender_id", "at"),
)

console_state = Table(
    "console_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
