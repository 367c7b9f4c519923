"""Fixtures of the console tests: known conversations in a tracker store, a server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from console.db import Database, make_engine
from console.demo import (
    action_event,
    bot_event,
    create_events_table,
    fill_tracker,
    insert_events,
    slot_event,
    user_event,
)
from console.events import MemoryEventSource
from tests.support.console import ConsoleServer, create_staff, temp_folder

ADMIN = ("alice", "alice-password-1")
REVIEWER = ("rita", "rita-password-1")
DAY = 86400.0


def known_conversations(now: float) -> Dict[str, List[dict]]:
    """Four conversations whose every property the tests know."""
    t = now - 3600
    return {
        "rest:known-zh": [
            action_event("action_session_start", t),
            action_event("action_listen", t),
            user_event("这个东西怎么弄", "nlu_fallback", 0.31, t + 1, "rest", "greet"),
            slot_event("language", "zh", t + 1),
            action_event("utter_default", t + 2),
            bot_event("抱歉，我没听懂。", "utter_default", t + 2),
            action_event("action_listen", t + 2),
            user_event("要带什么材料", "ask_materials", 0.97, t + 5, "rest"),
            action_event("utter_materials", t + 6),
            bot_event("请带户口本。", "utter_materials", t + 6),
        ],
        "web:known-en": [
            user_event(
                "I want to talk to a person", "request_human", 0.95, t + 10, "socketio"
            ),
            slot_event("language", "en", t + 10),
            slot_event("handoff_requested", True, t + 10),
            action_event("utter_handoff", t + 11),
            bot_event("Call 12333.", "utter_handoff", t + 11),
        ],
        "wechat:known-verified": [
            user_event(
                "我2025年交了哪几个月", "query_my_contributions", 0.9, t + 20, "wechat"
            ),
            slot_event("language", "zh", t + 20),
            action_event("contribution_inquiry_form", t + 21),
            {
                "event": "active_loop",
                "timestamp": t + 21,
                "name": "contribution_inquiry_form",
            },
            user_event("110101********1234", "inform_number", 0.88, t + 30, "wechat"),
            slot_event("id_number", "110101********1234", t + 30),
            user_event("******", "inform_number", 0.55, t + 40, "wechat"),
            slot_event("inquiry_outcome", "paid_up", t + 41),
            {"event": "active_loop", "timestamp": t + 41, "name": None},
        ],
        "rest:old-one": [
            user_event("hello", "greet", 0.99, now - 40 * DAY, "rest"),
            action_event("utter_greet", now - 40 * DAY + 1),
        ],
    }


def seed_tracker(url: str, now: float, random_count: int = 0) -> None:
    engine = make_engine(url, own=False)
    create_events_table(engine)
    if random_count:
        fill_tracker(engine, random_count, now - 20 * DAY, 19 * DAY)
    for sender, events in known_conversations(now).items():
        insert_events(engine, sender, events)
    engine.dispose()


@pytest.fixture
def memory_source() -> MemoryEventSource:
    source = MemoryEventSource()
    for sender, events in known_conversations(time.time()).items():
        for event in events:
            source.add(sender, event)
    return source


@pytest.fixture(params=["sqlite", "postgresql"])
def console_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The console's database on SQLite and on PostgreSQL (a throw-away database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'console.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database")
    db = Database(url, threads=1)
    db.create_schema()
    yield db
    db.close()


@pytest.fixture(scope="module")
def seeded_server() -> Iterator[ConsoleServer]:
    """A console over the known conversations plus 120 synthetic ones."""
    folder = temp_folder("console-")
    seed_tracker(f"sqlite:///{folder / 'tracker.sqlite3'}", time.time(), 120)
    server = ConsoleServer.in_folder(folder)
    create_staff(server.env, *ADMIN, role="admin")
    create_staff(server.env, *REVIEWER, role="reviewer")
    server.start()
    _wait_summarized(server)
    try:
        yield server
    finally:
        server.stop()


def _wait_summarized(server: ConsoleServer, timeout: float = 30.0) -> None:
    from tests.support.console import StaffClient

    client = StaffClient(server.url)
    client.login(*ADMIN)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            "known-verified"
            in client.page("/conversations?channel=wechat&verified=yes").text
        ):
            return
        time.sleep(0.3)
    raise TimeoutError("the console did not summarize the tracker store")
