"""Retention deletes old conversations from the tracker store, summaries and annotations."""

from __future__ import annotations

import time

from sqlalchemy import func, select, text

from console import repository as repo
from console.db import make_engine
from console.events import SQLTrackerEventSource
from console.models import audit_log, conversations, notes, turn_flags
from console.retention import run_retention
from console.summarize import Summarizer
from tests.console.conftest import seed_tracker


def test_retention_deletes_everything_of_old_conversations(console_db, tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    seed_tracker(url, time.time())
    source = SQLTrackerEventSource(url)
    Summarizer(console_db, source).run_until_drained()
    ids = console_db.run_sync(
        lambda c: repo.conversation_ids(c, ["rest:old-one", "rest:known-zh"])
    )
    for sender, row_id in ids.items():
        console_db.run_sync(
            lambda c, i=row_id, s=sender: repo.add_note(c, i, "alice", f"note {s}")
        )
        console_db.run_sync(
            lambda c, i=row_id: repo.flag_turn(
                c, i, 1, "hello", "greet", "thank", "alice"
            )
        )

    counts = run_retention(console_db, source, days=30, staff="alice")

    assert counts["conversations"] == 1 and counts["events"] == 2
    assert counts["summaries"] == 1 and counts["notes"] == 1 and counts["flags"] == 1
    engine = make_engine(url, own=False)
    with engine.connect() as connection:
        left = {
            r[0]
            for r in connection.execute(text("SELECT DISTINCT sender_id FROM events"))
        }
    engine.dispose()
    assert "rest:old-one" not in left and "rest:known-zh" in left
    summaries = console_db.run_sync(
        lambda c: {r.sender_id for r in c.execute(select(conversations.c.sender_id))}
    )
    assert "rest:old-one" not in summaries and "rest:known-zh" in summaries
    assert (
        console_db.run_sync(
            lambda c: c.execute(select(func.count()).select_from(notes)).scalar()
        )
        == 1
    )
    assert (
        console_db.run_sync(
            lambda c: c.execute(select(func.count()).select_from(turn_flags)).scalar()
        )
        == 1
    )
    entry = console_db.run_sync(lambda c: c.execute(select(audit_log)).fetchall())[-1]
    assert entry.action == "retention" and entry.staff == "alice"
    source.close()


def test_the_scheduled_job_follows_the_admin_setting(console_db, tmp_path):
    """``make run``'s console runs retention on its own, once an admin set a period."""
    from types import SimpleNamespace

    from console.app import scheduled_retention

    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    seed_tracker(url, time.time())
    app = SimpleNamespace(
        ctx=SimpleNamespace(db=console_db, source=SQLTrackerEventSource(url))
    )
    assert scheduled_retention(app) is None  # no period set: nothing is deleted
    console_db.run_sync(lambda c: repo.set_retention_days(c, 30))
    counts = scheduled_retention(app)
    assert counts is not None and counts["conversations"] == 1
    audit = console_db.run_sync(
        lambda c: [
            r.staff for r in c.execute(select(audit_log)) if r.action == "retention"
        ]
    )
    assert audit == ["schedule"]
