"""Delete conversations older than the retention period everywhere the console knows.

Older means: last event before ``now - days``.  The tracker store's events,
the summary rows and every annotation (tags, notes, flagged turns, inbox
items) of those conversations go, as do the per-day intent counts before the
cutoff day.  The audit log stays (it names conversations, never their text).
"""

from __future__ import annotations

import time
from typing import Dict, Optional

from console import repository as repo
from console.db import Database
from console.events import EventSource
from console.summarize import Summarizer, local_day

DAY = 24 * 3600


def run_retention(
    db: Database,
    source: EventSource,
    days: int,
    staff: str = "system",
    now: Optional[float] = None,
) -> Dict[str, int]:
    """Delete what is older than ``days`` days; returns counts per kind."""
    if days < 0:
        raise ValueError("retention days must not be negative")
    now = time.time() if now is None else now
    cutoff = now - days * DAY
    summarizer = Summarizer(db, source)
    summarizer.run_until_drained()  # no event is left unsummarized
    expired = db.run_sync(lambda c: repo.expired_conversations(c, cutoff))
    senders = [sender for _, sender in expired]
    counts: Dict[str, int] = {"conversations": len(expired)}
    counts["events"] = source.delete_senders(senders)
    # Rasa's SQLite events table has no AUTOINCREMENT: if the newest events were
    # deleted their ids are handed out again, so let the high-water mark follow
    # now (an event written between the delete and this call would be missed).
    summarizer.run_once()

    def work(connection):  # type: ignore[no-untyped-def]
        deleted = repo.delete_conversations(connection, [i for i, _ in expired])
        deleted["intent_days"] = repo.delete_daily_before(connection, local_day(cutoff))
        repo.add_audit(
            connection, staff, "retention", None, {"days": days, **counts, **deleted}
        )
        return deleted

    counts.update(db.run_sync(work))
    return counts
