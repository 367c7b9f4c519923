"""The RabbitMQ event broker (bot/event_broker.py) with the tracker store.

Against the real RabbitMQ on 127.0.0.1:5672, each test with its own queue
(deleted afterwards).  "RabbitMQ down" is a closed port, or a TCP proxy that
the test stops and starts again (tests/support/tcp_proxy.py): the shared
broker itself is never stopped.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import AsyncIterator, Iterator, List, Tuple

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.event_broker import RedactingPikaEventBroker
from bot.tracker_store import RedactingSQLTrackerStore
from tests.support.ids import sender_id
from tests.support.rabbitmq import (
    URL,
    bodies,
    delete_queue,
    random_queue,
    read_messages,
    require_rabbitmq,
    url_for,
    wait_for,
)
from tests.support.tcp_proxy import TcpProxy, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ID = "330102199003071230"
CODE = "654321"
PHONE = "13812345678"
SECRETS = (ID, CODE, PHONE, ID[6:14])
CONFIG = EndpointConfig(type="bot.event_broker.RedactingPikaEventBroker")


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    require_rabbitmq()
    name = random_queue()
    monkeypatch.setenv("SHEBAO_ENV", "development")  # the committed sender key
    monkeypatch.setenv("SHEBAO_EVENT_BROKER_URL", URL)
    monkeypatch.setenv("SHEBAO_EVENT_QUEUE", name)
    yield name


@pytest.fixture
async def cleanup(queue: str) -> AsyncIterator[List[RedactingPikaEventBroker]]:
    brokers: List[RedactingPikaEventBroker] = []
    yield brokers
    for broker in brokers:
        await broker.close()
    await delete_queue(queue)


async def make_broker(
    cleanup: List[RedactingPikaEventBroker],
) -> RedactingPikaEventBroker:
    broker = await RedactingPikaEventBroker.from_endpoint_config(CONFIG)
    assert broker is not None
    cleanup.append(broker)
    return broker


def make_store(tmp_path: Path, broker: EventBroker) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(
        Domain.empty(),
        event_broker=broker,
        dialect="sqlite",
        db=str(tmp_path / "tracker.sqlite3"),
    )


def rows(store: RedactingSQLTrackerStore) -> List[Tuple[int, str, str]]:
    path = str(store.engine.url).split("sqlite:///", 1)[1]
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT id, sender_id, data FROM events ORDER BY id"))


def verified_inquiry() -> List[Event]:
    """A conversation with an ID number, a 6-digit code and a phone number."""
    return [
        ActionExecuted("action_listen"),
        UserUttered(
            f"my id number is {ID}, phone {PHONE}",
            {"name": "inform_id_number", "confidence": 0.93},
            entities=[{"entity": "id_number", "value": ID, "start": 16, "end": 34}],
            metadata={"phone": PHONE, "note": f"caller {PHONE}"},
        ),
        SlotSet("id_number", ID),
        BotUttered(f"A code was sent to {PHONE[:3]}****{PHONE[-4:]}."),
        ActionExecuted("action_listen"),
        UserUttered(CODE, {"name": "inform_code", "confidence": 0.88}),
        SlotSet("verification_code", CODE),
        BotUttered(f"Verified {ID}."),
    ]


async def test_messages_are_the_stored_rows_redacted_with_their_ids(
    tmp_path: Path, queue: str, cleanup: List[RedactingPikaEventBroker]
) -> None:
    broker = await make_broker(cleanup)
    assert await wait_for(broker.is_ready)
    store = make_store(tmp_path, broker)
    sender = "rest:" + PHONE  # personal data in the sender id too
    tracker = DialogueStateTracker.from_events(sender, verified_inquiry())
    await store.save(tracker)

    stored = rows(store)
    assert len(stored) == len(verified_inquiry())
    messages = await read_messages(queue, len(stored))
    assert len(messages) == len(stored)
    published = bodies(messages)
    for body, (row_id, stored_sender, data) in zip(published, stored, strict=True):
        assert body.pop("event_id") == row_id
        assert body.pop("sender_id") == stored_sender
        assert body == json.loads(data)  # the same redacted dict as the row
    assert stored[0][1].startswith("redacted:")
    raw = b"\n".join(m.body for m in messages)
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{secret!r} reached RabbitMQ"
    assert b"330102********1230" in raw and b"******" in raw
    for message in messages:  # persistent, so they survive a broker restart
        assert message.delivery_mode == 2

    # the next save publishes only the new row, once
    again = await store.retrieve(sender)
    assert again is not None
    again.update(SlotSet("language", "en"))
    await store.save(again)
    more = await read_messages(queue, 2, timeout=3)
    assert [b["event_id"] for b in bodies(more)] == [rows(store)[-1][0]]


async def test_save_works_and_keeps_events_while_rabbitmq_is_down(
    tmp_path: Path,
    queue: str,
    cleanup: List[RedactingPikaEventBroker],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SHEBAO_EVENT_BROKER_URL", url_for(free_port()))  # closed
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    broker = await make_broker(cleanup)
    assert time.monotonic() - started < 1.0  # Rasa does not wait for RabbitMQ
    store = make_store(tmp_path, broker)
    tracker = DialogueStateTracker.from_events(sender_id("rest"), verified_inquiry())
    await store.save(tracker)
    assert len(rows(store)) == len(verified_inquiry())  # the system of record
    assert await wait_for(lambda: broker.buffered == len(verified_inquiry()))
    assert not broker.is_ready()
    assert await wait_for(lambda: "is unreachable" in caplog.text)
    assert "guest:guest" not in caplog.text  # the password is never logged
    for secret in SECRETS:
        assert secret not in caplog.text


async def test_events_saved_while_down_arrive_once_rabbitmq_is_back(
    tmp_path: Path,
    queue: str,
    cleanup: List[RedactingPikaEventBroker],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the queue exists before anything is published (a consumer declared it)
    await read_messages(queue, 0, timeout=0)
    proxy = TcpProxy("127.0.0.1", 5672)  # not listening yet: "down at start"
    try:
        monkeypatch.setenv(
            "SHEBAO_EVENT_BROKER_URL", url_for(proxy.port, reconnect_interval="0.3")
        )
        broker = await make_broker(cleanup)
        broker._backoff_max = 0.5  # keep the test short; the default is 30 s
        store = make_store(tmp_path, broker)
        first = DialogueStateTracker.from_events(sender_id("rest"), verified_inquiry())
        await store.save(first)
        assert await wait_for(lambda: broker.buffered == len(verified_inquiry()))

        proxy.start()  # RabbitMQ is back: the background connection gets through
        got = await read_messages(queue, len(verified_inquiry()))
        assert [b["event_id"] for b in bodies(got)] == [r[0] for r in rows(store)]

        proxy.stop()  # the connection breaks while Rasa is serving
        assert await wait_for(lambda: not broker.is_ready())
        second = DialogueStateTracker.from_events(
            sender_id("rest"), [ActionExecuted("action_listen"), SlotSet("a", 1)]
        )
        await store.save(second)  # still answers
        assert await wait_for(lambda: broker.buffered == 2)
        proxy.start()  # aio-pika's robust connection reconnects; kept events go
        got = await read_messages(queue, 2)
        assert [b["event_id"] for b in bodies(got)] == [r[0] for r in rows(store)[-2:]]
        assert broker.buffered == 0
    finally:
        for broker in cleanup:  # before the proxy goes
            await broker.close()
        cleanup.clear()
        proxy.close()


async def test_endpoints_file_without_a_broker_url_means_no_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SHEBAO_ACTIONS_URL", "SHEBAO_ACTIONS_TOKEN", "SHEBAO_TRACKER_URL"):
        monkeypatch.setenv(name, "x")  # the rest of the file needs them
    monkeypatch.delenv("SHEBAO_EVENT_BROKER_URL", raising=False)
    endpoints = AvailableEndpoints.read_endpoints(str(REPO_ROOT / "endpoints.yml"))
    assert endpoints.event_broker is not None
    assert endpoints.event_broker.type == "bot.event_broker.RedactingPikaEventBroker"
    assert await EventBroker.create(endpoints.event_broker) is None
    monkeypatch.setenv("SHEBAO_EVENT_BROKER_URL", "")  # set but empty: the same
    assert await EventBroker.create(endpoints.event_broker) is None


async def test_endpoints_file_with_a_broker_url_gives_the_redacting_broker(
    queue: str, cleanup: List[RedactingPikaEventBroker], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SHEBAO_ACTIONS_URL", "SHEBAO_ACTIONS_TOKEN", "SHEBAO_TRACKER_URL"):
        monkeypatch.setenv(name, "x")
    endpoints = AvailableEndpoints.read_endpoints(str(REPO_ROOT / "endpoints.yml"))
    broker = await EventBroker.create(endpoints.event_broker)
    assert isinstance(broker, RedactingPikaEventBroker)
    cleanup.append(broker)
    assert broker.settings.queue == queue
    assert await wait_for(broker.is_ready)
