"""The console consumes Rasa's event queue (console/event_queue.py).

A real console process polls only every 600 s here, so a summary row that
appears within seconds was woken by the message that Rasa's real tracker
store and broker (bot/) published to the real RabbitMQ.  "RabbitMQ down" for
the console is a TCP proxy that is not listening yet or is stopped: the shared
broker is never stopped.  Each test has its own queue, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import AsyncIterator, Optional, Tuple

import aio_pika
import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.event_broker import RedactingPikaEventBroker
from bot.tracker_store import RedactingSQLTrackerStore
from common.event_queue import EventQueueSettings
from console.event_queue import EventQueueConsumer, Wakeups
from tests.support.console import ConsoleServer
from tests.support.ids import sender_id
from tests.support.rabbitmq import (
    URL,
    delete_queue,
    random_queue,
    require_rabbitmq,
    url_for,
    wait_for,
)
from tests.support.tcp_proxy import TcpProxy

ID = "330102199003071230"
PHONE = "13812345678"
POLL = "600"  # the safety-net poll: far longer than any test waits


@pytest.fixture
async def queue(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    require_rabbitmq()
    name = random_queue()
    monkeypatch.setenv("SHEBAO_ENV", "development")
    monkeypatch.setenv("SHEBAO_EVENT_BROKER_URL", URL)
    monkeypatch.setenv("SHEBAO_EVENT_QUEUE", name)
    yield name
    await delete_queue(name)


@pytest.fixture
async def rasa_side(
    queue: str, tmp_path: Path
) -> AsyncIterator[Tuple[RedactingSQLTrackerStore, RedactingPikaEventBroker]]:
    """Rasa's tracker store and broker, writing the console's tracker database."""
    broker = await RedactingPikaEventBroker.from_endpoint_config(
        EndpointConfig(type="bot.event_broker.RedactingPikaEventBroker")
    )
    assert broker is not None
    assert await wait_for(broker.is_ready)
    store = RedactingSQLTrackerStore(
        Domain.empty(),
        event_broker=broker,
        dialect="sqlite",
        db=str(tmp_path / "tracker.sqlite3"),
    )
    yield store, broker
    await broker.close()


def conversation(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered(
                f"my id number is {ID}, phone {PHONE}",
                {"name": "inform_id_number", "confidence": 0.9},
            ),
            SlotSet("language", "en"),
            BotUttered("Thank you."),
        ],
    )


def summary(folder: Path, sender: str) -> Optional[Tuple[str, int]]:
    path = folder / "console.sqlite3"
    if not path.exists():
        return None
    with sqlite3.connect(path) as db:
        try:
            row = db.execute(
                "SELECT channel, turns FROM conversation_summaries WHERE sender_id = ?",
                (sender,),
            ).fetchone()
        except sqlite3.OperationalError:  # not created yet
            return None
    return (str(row[0]), int(row[1])) if row else None


async def consumers(queue: str) -> int:
    connection = await aio_pika.connect(URL)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True)
        return int(declared.declaration_result.consumer_count or 0)
    finally:
        await connection.close()


async def ready_messages(queue: str) -> int:
    connection = await aio_pika.connect(URL)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def wait_async(check, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_a_published_event_summarizes_long_before_the_poll(
    queue: str, tmp_path: Path, rasa_side
) -> None:
    store, _broker = rasa_side
    folder = tmp_path
    server = ConsoleServer.in_folder(
        folder, CONSOLE_SUMMARY_INTERVAL=POLL, SHEBAO_EVENT_QUEUE=queue
    )
    server.env["SHEBAO_EVENT_BROKER_URL"] = URL
    server.start()
    try:
        assert await wait_async(lambda: _consuming(queue))
        await asyncio.sleep(1.0)  # the console's first (start-up) pass is over
        sender = sender_id("rest:queue")
        started = time.monotonic()
        await store.save(conversation(sender))
        assert await wait_for(lambda: summary(folder, sender) is not None, 15)
        assert time.monotonic() - started < 15  # the poll would take 600 s
        assert summary(folder, sender) == ("rest", 1)
        await asyncio.sleep(1.0)  # messages that came during the pass get settled
    finally:
        server.stop()
    # every message was acknowledged (unacknowledged ones would be ready again)
    assert await ready_messages(queue) == 0
    log = server.log.read_text(encoding="utf-8", errors="replace")
    assert "guest:guest" not in log and ID not in log and PHONE not in log


async def _consuming(queue: str) -> bool:
    return await consumers(queue) >= 1


async def test_console_survives_rabbitmq_away_at_start_and_catches_up(
    queue: str, tmp_path: Path, rasa_side
) -> None:
    store, _broker = rasa_side
    folder = tmp_path
    proxy = TcpProxy("127.0.0.1", 5672)  # not listening: RabbitMQ "down"
    server = ConsoleServer.in_folder(
        folder, CONSOLE_SUMMARY_INTERVAL=POLL, SHEBAO_EVENT_QUEUE=queue
    )
    server.env["SHEBAO_EVENT_BROKER_URL"] = url_for(proxy.port)
    try:
        server.start()  # serves although it cannot reach RabbitMQ
        await asyncio.sleep(1.0)
        first = sender_id("rest:away")
        await store.save(conversation(first))  # queued in RabbitMQ meanwhile
        await asyncio.sleep(1.5)
        assert summary(folder, first) is None  # nothing woke it: the poll is 600 s

        proxy.start()
        assert await wait_for(lambda: summary(folder, first) is not None, 30)

        proxy.stop()  # the connection drops while the console runs
        await asyncio.sleep(0.5)
        second = sender_id("rest:drop")
        await store.save(conversation(second))
        proxy.start()
        assert await wait_for(lambda: summary(folder, second) is not None, 30)
        log = server.log.read_text(encoding="utf-8", errors="replace")
        assert "is unreachable" in log and "guest:guest" not in log
    finally:
        server.stop()
        proxy.close()


async def test_messages_are_acknowledged_only_after_the_pass(queue: str) -> None:
    """In process: a message stays unacknowledged until ``settle``."""
    wakeups = Wakeups()
    settings = EventQueueSettings(URL, queue)

    async def consume() -> asyncio.Task:
        consumer = EventQueueConsumer(settings, wakeups)
        task = asyncio.get_running_loop().create_task(consumer.run())
        assert await wait_for(consumer.connected.is_set)
        return task

    async def stop(task: asyncio.Task) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    task = await consume()
    wakeups.take()  # the catch-up notification of the connect
    connection = await aio_pika.connect(URL)
    channel = await connection.channel()
    exchange = await channel.get_exchange(queue)
    await exchange.publish(aio_pika.Message(b'{"event_id": 1}'), "")
    await connection.close()
    await wakeups.wait(10)
    batch = wakeups.take()
    assert len(batch) == 1
    await stop(task)  # a crash before the pass committed ...
    assert await ready_messages(queue) == 1  # ... and RabbitMQ still has it
    await Wakeups.settle(batch)  # too late: that channel is gone (no error)

    task = await consume()
    redelivered: list = []
    for _ in range(3):  # the connect's own wake-up comes without a message
        await wakeups.wait(10)
        redelivered = wakeups.take()
        if redelivered:
            break
    assert len(redelivered) == 1 and redelivered[0].redelivered
    await Wakeups.settle(redelivered)
    await asyncio.sleep(0.3)
    await stop(task)
    assert await ready_messages(queue) == 0
