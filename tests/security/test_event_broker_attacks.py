"""Attacks on the promise that no ID number, code or phone reaches RabbitMQ.

bot/event_broker.py redacts whatever Rasa publishes through the generic
``publish``, not only the rows of our tracker store: the worst case is the
database failing, when Rasa's ``FailSafeTrackerStore`` falls back to an
in-memory store that streams the *raw* events to the broker.  Real RabbitMQ,
a random queue per test.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import AsyncIterator, List

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.event_broker import RedactingPikaEventBroker
from bot.tracker_store import RedactingSQLTrackerStore
from tests.support.rabbitmq import (
    URL,
    delete_queue,
    random_queue,
    read_messages,
    require_rabbitmq,
    wait_for,
)

ID = "330102199003071230"
CODE = "654321"
PHONE = "13812345678"


@pytest.fixture
async def broker(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[RedactingPikaEventBroker]:
    require_rabbitmq()
    queue = random_queue()
    monkeypatch.setenv("SHEBAO_ENV", "development")
    monkeypatch.setenv("SHEBAO_EVENT_BROKER_URL", URL)
    monkeypatch.setenv("SHEBAO_EVENT_QUEUE", queue)
    made = await RedactingPikaEventBroker.from_endpoint_config(
        EndpointConfig(type="bot.event_broker.RedactingPikaEventBroker")
    )
    assert made is not None
    assert await wait_for(made.is_ready)
    yield made
    await made.close()
    await delete_queue(queue)


def _raw(messages: List) -> str:  # type: ignore[type-arg]
    return "\n".join(m.body.decode("utf-8") for m in messages)


async def test_fallback_store_streams_raw_events_but_rabbitmq_gets_them_redacted(
    tmp_path: Path, broker: RedactingPikaEventBroker
) -> None:
    path = tmp_path / "tracker.sqlite3"
    store = RedactingSQLTrackerStore(
        Domain.empty(), event_broker=broker, dialect="sqlite", db=str(path)
    )
    with sqlite3.connect(path) as db:  # the database is lost under Rasa
        db.execute("DROP TABLE events")
    failsafe = FailSafeTrackerStore(store)
    tracker = DialogueStateTracker.from_events(
        PHONE,  # a phone number as the sender id
        [
            ActionExecuted("action_listen"),
            UserUttered(f"ID {ID} code {CODE}", {}, metadata={PHONE: int(ID)}),
            SlotSet("id_number", ID),
        ],
    )
    await failsafe.save(tracker)  # falls back to memory, which streams raw events
    messages = await read_messages(broker.settings.queue, 3)
    assert len(messages) == 3
    raw = _raw(messages)
    for secret in (ID, CODE, PHONE, ID[6:14]):
        assert secret not in raw, f"{secret!r} reached RabbitMQ"
    senders = {json.loads(m.body)["sender_id"] for m in messages}
    assert len(senders) == 1 and senders.pop().startswith("redacted:")


async def test_hostile_event_published_directly_is_redacted_or_dropped(
    broker: RedactingPikaEventBroker,
) -> None:
    deep: object = ID
    for _ in range(100):
        deep = [deep]
    broker.publish({"sender_id": "web:session-secret", "event": "user", "x": deep})
    broker.publish({"sender_id": "rest:a", "event": "user", "bad": object()})
    broker.publish({"sender_id": "rest:b", "event": "bot", "text": f"{PHONE}"})
    messages = await read_messages(broker.settings.queue, 3, timeout=5)
    raw = _raw(messages)
    assert len(messages) == 2  # the event that is not JSON is not published
    assert ID not in raw and PHONE not in raw and "session-secret" not in raw
    assert "[redacted: too deep]" in raw
