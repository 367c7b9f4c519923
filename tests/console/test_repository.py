"""The list queries: every filter, search, sort and keyset pagination."""

from __future__ import annotations

import random
import time

import pytest

from console import repository as repo
from console.demo import synthetic_conversation
from console.events import MemoryEventSource
from console.summarize import Summarizer


@pytest.fixture
def filled(console_db, memory_source):
    rng = random.Random(3)
    now = time.time()
    for number in range(150):
        channel, events = synthetic_conversation(rng, now - rng.uniform(0, 10 * 86400))
        for event in events:
            memory_source.add(f"{channel}:s{number}", event)
    Summarizer(console_db, memory_source).run_until_drained()
    return console_db


def senders(db, **query):
    result, _ = db.run_sync(
        lambda c: repo.list_conversations(c, repo.ListFilters.from_query(query), 1000)
    )
    return [r.sender_id for r in result]


def test_each_filter_keeps_only_matching_conversations(filled):
    assert all(s.startswith("web:") for s in senders(filled, channel="web"))
    assert "web:known-en" in senders(filled, channel="web")
    assert "rest:known-zh" in senders(filled, language="zh", fallback="yes")
    assert "rest:known-zh" not in senders(filled, fallback="no")
    assert "web:known-en" in senders(filled, handoff="yes")
    assert "web:known-en" not in senders(filled, handoff="no")
    assert "wechat:known-verified" in senders(filled, verified="yes")
    assert "wechat:known-verified" not in senders(filled, verified="no")
    assert len(senders(filled, review="new")) == len(senders(filled))
    assert senders(filled, review="reviewed") == []
    old_day = repo.today_local().fromordinal(repo.today_local().toordinal() - 39)
    assert senders(filled, to=old_day.isoformat()) == ["rest:old-one"]
    assert "rest:old-one" not in senders(
        filled, **{"from": repo.today_local().isoformat()}
    )


def test_tag_and_review_filters_follow_annotations(filled):
    ids = filled.run_sync(lambda c: repo.conversation_ids(c, ["rest:known-zh"]))
    filled.run_sync(
        lambda c: repo.set_tags(c, ids["rest:known-zh"], ["wrong answer", "x"])
    )
    filled.run_sync(
        lambda c: repo.set_review_status(c, ids["rest:known-zh"], "reviewed")
    )
    assert senders(filled, tag="wrong answer") == ["rest:known-zh"]
    assert senders(filled, review="reviewed") == ["rest:known-zh"]


def test_search_is_over_masked_user_texts_and_escapes_wildcards(filled):
    assert senders(filled, q="带什么材料")[0:1] and "rest:known-zh" in senders(
        filled, q="带什么材料"
    )
    assert senders(filled, q="TALK TO A PERSON")
    assert senders(filled, q="110101********1234") == ["wechat:known-verified"]
    assert senders(filled, q="%") == []


@pytest.mark.parametrize("sort", ["last", "started", "turns"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_keyset_pages_cover_everything_once_in_order(filled, sort, order):
    everything = senders(filled, sort=sort, order=order)
    seen, cursor = [], ""
    while True:
        filters = repo.ListFilters.from_query(
            {"sort": sort, "order": order, "cursor": cursor}
        )
        page, cursor = filled.run_sync(
            lambda c, f=filters: repo.list_conversations(c, f, 17)
        )
        seen += [r.sender_id for r in page]
        if not cursor:
            break
    assert seen == everything and len(set(seen)) == len(seen) == 154


def test_filters_round_trip_through_the_url():
    filters = repo.ListFilters.from_query(
        {
            "channel": "web",
            "fallback": "yes",
            "from": "2026-01-02",
            "q": "医保",
            "sort": "turns",
            "bogus": "1",
            "language": "fr",
        }
    )
    assert filters.language == ""
    assert filters.query() == {
        "channel": "web",
        "fallback": "yes",
        "from": "2026-01-02",
        "q": "医保",
        "sort": "turns",
    }
    assert repo.ListFilters.from_query(filters.query()) == filters


def test_dashboard_counts_rates_and_intents(filled):
    today = repo.today_local()
    start = today.fromordinal(today.toordinal() - 45).isoformat()
    board = filled.run_sync(lambda c: repo.dashboard(c, start, today.isoformat()))
    assert board.total == 154
    assert sum(sum(v.values()) for v in board.per_day.values()) == 154
    assert 0 < board.with_handoff < board.total
    assert board.containment_rate == (154 - board.with_handoff) / 154
    assert board.fallback_rate == board.with_fallback / 154
    assert board.top_intents and board.top_intents[0][1] >= board.top_intents[-1][1]


def test_followups_claim_then_close(console_db, memory_source):
    Summarizer(console_db, memory_source).run_until_drained()
    queue = console_db.run_sync(repo.followup_queue)
    assert [r.sender_id for r in queue] == ["web:known-en"]
    row_id = queue[0].id
    assert console_db.run_sync(lambda c: repo.claim_followup(c, row_id, "rita"))
    assert not console_db.run_sync(lambda c: repo.claim_followup(c, row_id, "bob"))
    assert console_db.run_sync(lambda c: repo.close_followup(c, row_id, "called back"))
    assert console_db.run_sync(repo.followup_queue) == []
    closed = console_db.run_sync(lambda c: repo.followup_queue(c, True))[0]
    assert (closed.claimed_by, closed.followup_outcome) == ("rita", "called back")


def test_memory_source_is_a_full_event_source():
    source = MemoryEventSource()
    source.add("rest:x", {"event": "user", "text": "a"})
    assert source.max_id() == 1 and source.events_for("rest:x")[0].data["text"] == "a"
    assert source.delete_senders(["rest:x"]) == 1 and source.max_id() == 0


def test_an_older_console_database_gets_the_new_columns(tmp_path):
    """A console upgrade keeps its data: nullable columns added since are added."""
    import sqlite3

    from console.db import Database

    path = tmp_path / "old.sqlite3"
    Database(f"sqlite:///{path}").create_schema()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE conversation_summaries DROP COLUMN rating")
        assert "rating" not in {
            r[1] for r in db.execute("PRAGMA table_info(conversation_summaries)")
        }
    Database(f"sqlite:///{path}").create_schema()
    with sqlite3.connect(path) as db:
        assert "rating" in {
            r[1] for r in db.execute("PRAGMA table_info(conversation_summaries)")
        }
