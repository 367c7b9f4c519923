"""The shared RabbitMQ in tests: a random queue per test, read and deleted after.

Every test gets its own queue (and the fanout exchange of the same name that
our publishers declare), so tests and helpers can share one RabbitMQ; nothing
else on the broker is touched.  The real broker at 127.0.0.1:5672 is required
(the test is skipped with a reason when it is not there).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, Callable, Dict, List

import aio_pika
import pytest

from tests.support.ids import random_tag

HOST, PORT = "127.0.0.1", 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/%2F"


def url_for(port: int, **query: str) -> str:
    """The broker URL on another port (a proxy's, or a closed one)."""
    extra = "&".join(f"{k}={v}" for k, v in query.items())
    return f"amqp://guest:guest@{HOST}:{port}/%2F" + (f"?{extra}" if extra else "")


def require_rabbitmq() -> None:
    """Skip when no RabbitMQ listens on the loopback port."""
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError:
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")


def random_queue() -> str:
    """A queue name of this test alone."""
    return f"shebao.test.{random_tag()}"


async def read_messages(
    queue: str, count: int, timeout: float = 15.0
) -> List[aio_pika.abc.AbstractIncomingMessage]:
    """Take (and ack) ``count`` messages from ``queue``, waiting up to ``timeout``."""
    connection = await aio_pika.connect(URL)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True)
        got: List[aio_pika.abc.AbstractIncomingMessage] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            message = await declared.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            got.append(message)
        return got
    finally:
        await connection.close()


def bodies(
    messages: List[aio_pika.abc.AbstractIncomingMessage],
) -> List[Dict[str, Any]]:
    """The JSON bodies, in event id order."""
    parsed = [json.loads(m.body) for m in messages]
    return sorted(parsed, key=lambda b: b.get("event_id", 0))


async def delete_queue(queue: str) -> None:
    """Remove the test's queue and its exchange."""
    connection = await aio_pika.connect(URL)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(queue)
    finally:
        await connection.close()


async def wait_for(
    condition: Callable[[], bool], timeout: float = 15.0, step: float = 0.05
) -> bool:
    """Poll ``condition`` in the event loop until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()
