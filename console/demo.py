"""Synthetic tracker data for the benchmark and the tests.

``create_events_table`` makes the table Rasa's ``SQLTrackerStore`` creates
(same name and columns), ``synthetic_conversation`` the events of one plausible
conversation (Rasa's event dicts, already masked), and ``fill_tracker`` bulk
inserts many of them.  Nothing here runs in the served console.
"""

from __future__ import annotations

import json
import random
from typing import Any, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import text
from sqlalchemy.engine import Engine

EVENTS_DDL = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, "
        "sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
        "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
    ),
    "postgresql": (
        "CREATE TABLE IF NOT EXISTS events (id SERIAL PRIMARY KEY, "
        "sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
        "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
    ),
}

TOPICS: List[Tuple[str, str, str, str]] = [
    (
        "ask_individual_payment",
        "我想自己交医保，怎么办？",
        "How do I pay medical insurance myself?",
        "utter_ask_residency_type",
    ),
    ("ask_materials", "要带什么材料", "what do I need to bring", "utter_materials"),
    ("ask_where_to_go", "去哪里办", "where do I go", "utter_where_to_go"),
    (
        "ask_employer_registration",
        "新公司怎么办社保登记",
        "how does a new company register",
        "utter_employer_registration",
    ),
    (
        "ask_check_payment",
        "交完医保怎么查询",
        "how can I check my payment",
        "utter_check_payment",
    ),
    ("greet", "你好", "hello", "utter_greet"),
    ("thank", "谢谢", "thanks", "utter_thank"),
]
CHANNEL_WEIGHTS = (("rest", 2), ("web", 5), ("wechat", 3))


def create_events_table(engine: Engine) -> None:
    """Create Rasa's ``events`` table, so the demo runs without a tracker store."""
    ddl = EVENTS_DDL.get(engine.dialect.name, EVENTS_DDL["sqlite"])
    with engine.begin() as connection:
        connection.execute(text(ddl))
        connection.execute(
            text("CREATE INDEX IF NOT EXISTS ix_events_sender_id ON events (sender_id)")
        )


def user_event(
    text_: str,
    intent: str,
    confidence: float,
    ts: float,
    channel: str = "rest",
    runner_up: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """A Rasa ``user`` event as the SQL tracker store would store it."""
    ranking = [{"name": intent, "confidence": confidence}]
    if runner_up:
        ranking.append({"name": runner_up, "confidence": round(1 - confidence, 3)})
    return {
        "event": "user",
        "timestamp": ts,
        "text": text_,
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": entities or [],
            "intent_ranking": ranking,
            "text": text_,
        },
        "input_channel": channel,
    }


def action_event(name: str, ts: float) -> Dict[str, Any]:
    """A Rasa ``action`` event as the SQL tracker store would store it."""
    return {
        "event": "action",
        "timestamp": ts,
        "name": name,
        "policy": "RulePolicy",
        "confidence": 1.0,
    }


def bot_event(text_: str, utter: str, ts: float) -> Dict[str, Any]:
    """A Rasa ``bot`` event as the SQL tracker store would store it."""
    return {
        "event": "bot",
        "timestamp": ts,
        "text": text_,
        "data": {},
        "metadata": {"utter_action": utter},
    }


def slot_event(name: str, value: Any, ts: float) -> Dict[str, Any]:
    """A Rasa ``slot`` event as the SQL tracker store would store it."""
    return {"event": "slot", "timestamp": ts, "name": name, "value": value}


def synthetic_conversation(
    rng: random.Random, start: float
) -> Tuple[str, List[Dict[str, Any]]]:
    """(channel, events) of one conversation starting at ``start``."""
    channel = rng.choices(
        [c for c, _ in CHANNEL_WEIGHTS], [w for _, w in CHANNEL_WEIGHTS]
    )[0]
    language = rng.choice(("zh", "en"))
    ts = start
    events: List[Dict[str, Any]] = [
        action_event("action_session_start", ts),
        {"event": "session_started", "timestamp": ts},
        action_event("action_listen", ts),
    ]
    for _ in range(rng.randint(1, 4)):
        ts += rng.uniform(2, 40)
        roll = rng.random()
        if roll < 0.08:
            intent, text_zh, text_en, utter = (
                "nlu_fallback",
                "这个怎么弄",
                "blorp the thing",
                "utter_default",
            )
        elif roll < 0.12:
            intent, text_zh, text_en, utter = (
                "request_human",
                "转人工",
                "I want to talk to a person",
                "utter_handoff",
            )
        else:
            intent, text_zh, text_en, utter = rng.choice(TOPICS)
        confidence = round(rng.uniform(0.3, 0.99), 3)
        events.append(
            user_event(
                text_zh if language == "zh" else text_en,
                intent,
                confidence,
                ts,
                channel,
                "greet",
            )
        )
        events.append(slot_event("language", language, ts))
        if intent == "request_human":
            events.append(slot_event("handoff_requested", True, ts))
        events.append(action_event(utter, ts + 0.05))
        events.append(bot_event(f"[{utter}]", utter, ts + 0.05))
        events.append(action_event("action_listen", ts + 0.06))
    if rng.random() < 0.05:
        events.append(slot_event("inquiry_outcome", "paid_up", ts + 0.1))
    return channel, events


def fill_tracker(
    engine: Engine,
    conversations: int,
    start: float,
    span_seconds: float,
    seed: int = 7,
    batch: int = 20000,
) -> int:
    """Insert ``conversations`` synthetic conversations; returns the event count."""
    rng = random.Random(seed)
    starts = sorted(start + rng.uniform(0, span_seconds) for _ in range(conversations))
    rows: List[Dict[str, Any]] = []
    total = 0
    insert_sql = text(
        "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
        "VALUES (:sender_id, :type_name, :timestamp, :intent_name, :action_name, :data)"
    )

    def flush() -> None:
        with engine.begin() as connection:
            connection.execute(insert_sql, rows)
        rows.clear()

    for number, begin in enumerate(starts):
        channel, events = synthetic_conversation(rng, begin)
        sender = f"{channel}:synthetic-{number:06d}"
        for event in events:
            rows.append(_row(sender, event))
        total += len(events)
        if len(rows) >= batch:
            flush()
    if rows:
        flush()
    return total


def _row(sender: str, event: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "sender_id": sender,
        "type_name": event["event"],
        "timestamp": event.get("timestamp"),
        "intent_name": ((event.get("parse_data") or {}).get("intent") or {}).get(
            "name"
        ),
        "action_name": event.get("name"),
        "data": json.dumps(event, ensure_ascii=False),
    }


def insert_events(
    engine: Engine, sender: str, events: Iterable[Dict[str, Any]]
) -> None:
    """Write a conversation's events in the tracker store's column layout."""
    with engine.begin() as connection:
        for event in events:
            connection.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                    "action_name, data) VALUES (:sender_id, :type_name, :timestamp, "
                    ":intent_name, :action_name, :data)"
                ),
                _row(sender, event),
            )
