"""Rasa's event queue as the summarizer's doorbell (``SHEBAO_EVENT_BROKER_URL``).

Design: a message is a *notification*, the tracker database stays the source
of truth.  Each message Rasa publishes (``bot.event_broker``: one stored,
redacted event with its row id) wakes the summary loop at once; the summarizer
then folds every new row by id as it always does (``console.summarize``: its
high-water mark moves in the same transaction as the summaries, which gives
exactly-once counting and crash safety that folding message bodies would have
to rebuild — duplicates, reordering, messages lost while the console was down).
A message is acknowledged only after a summarizer pass that began after it
arrived has committed, or once the committed high-water mark is at or past
the row id it announces (``event_id``; nothing else of the body is used), so
an unacknowledged message (a crash, a lost connection) is delivered again and
costs at most one more, empty pass.  The ``CONSOLE_SUMMARY_INTERVAL`` poll stays as the safety net for
events published while nobody listened (set it long, e.g. 60 s, with a broker).

:class:`EventQueueConsumer` declares the same durable queue and durable fanout
exchange as the publisher (whoever starts first creates them), consumes with
manual acknowledgements and a bounded prefetch, and reconnects with
exponential backoff whenever RabbitMQ is unreachable or the connection drops.
Its log lines name the broker without its password.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, List, Optional

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from common.event_queue import EventQueueSettings

logger = logging.getLogger("console.event_queue")

PREFETCH = 500  # unacknowledged messages RabbitMQ hands the console at most
CONNECT_TIMEOUT = 10.0
ACK_TIMEOUT = 2.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0


class Wakeups:
    """Messages not yet acknowledged, and the signal that wakes the summarizer."""

    def __init__(self) -> None:
        self._signal = asyncio.Event()
        self._pending: List[AbstractIncomingMessage] = []

    def notify(self, message: Optional[AbstractIncomingMessage] = None) -> None:
        """Wake the summary loop; ``message`` is acknowledged after its pass."""
        if message is not None:
            self._pending.append(message)
        self._signal.set()

    def take(self) -> List[AbstractIncomingMessage]:
        """The messages a pass starting now will cover (and clear the signal)."""
        batch, self._pending = self._pending, []
        self._signal.clear()
        return batch

    def give_back(self, batch: List[AbstractIncomingMessage]) -> None:
        """A pass failed: its messages wait for the next one."""
        self._pending[:0] = batch

    async def wait(self, timeout: float) -> None:
        """Sleep until a notification or ``timeout`` seconds (the poll)."""
        try:
            await asyncio.wait_for(self._signal.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def settle_covered(self, high_water_mark: int) -> None:
        """Acknowledge waiting messages whose row a committed pass already folded.

        Messages that arrive while a pass runs usually announce rows that pass
        read anyway; their ``event_id`` (the tracker row id) tells, so they do
        not cost another pass.  A message without one waits for a pass.
        """
        covered: List[AbstractIncomingMessage] = []
        waiting: List[AbstractIncomingMessage] = []
        for message in self._pending:
            event_id = _event_id(message)
            if event_id is not None and event_id <= high_water_mark:
                covered.append(message)
            else:
                waiting.append(message)
        self._pending = waiting
        if not waiting:
            self._signal.clear()
        await self.settle(covered)

    @staticmethod
    async def settle(batch: List[AbstractIncomingMessage]) -> None:
        """Acknowledge messages whose events are folded and committed.

        A message from a channel that has since closed cannot be
        acknowledged (and aiormq would wait forever for the write); RabbitMQ
        delivers it again, which costs one empty pass.  An ack is bytes on the
        socket; the timeout covers a connection that died unnoticed.
        """
        for message in batch:
            if message.channel.is_closed:
                continue
            try:
                await asyncio.wait_for(message.ack(), ACK_TIMEOUT)
            except Exception:  # noqa: BLE001 - see above
                pass


def _event_id(message: AbstractIncomingMessage) -> Optional[int]:
    """The tracker row id a message announces, if it is one of ours."""
    try:
        value = json.loads(message.body).get("event_id")
    except (ValueError, AttributeError):  # not JSON, or not an object
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class EventQueueConsumer:
    """Consumes ``SHEBAO_EVENT_QUEUE`` and rings :class:`Wakeups` per message."""

    def __init__(
        self,
        settings: EventQueueSettings,
        wakeups: Wakeups,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.settings = settings
        self.wakeups = wakeups
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Consume until cancelled, reconnecting with backoff."""
        delay = self.backoff_first
        while True:
            try:
                await self._consume_until_closed()
                delay = self.backoff_first  # it was up: try again soon
                logger.warning(
                    "Lost the RabbitMQ connection to %s; reconnecting.",
                    self.settings.display_url,
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: try again
                logger.warning(
                    "RabbitMQ at %s is unreachable (%s); next attempt in %.1f s. "
                    "Summaries follow the %s poll meanwhile.",
                    self.settings.display_url,
                    type(error).__name__,
                    delay,
                    "CONSOLE_SUMMARY_INTERVAL",
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def _consume_until_closed(self) -> None:
        connection = await aio_pika.connect(self.settings.url, timeout=CONNECT_TIMEOUT)
        closed = asyncio.Event()

        def on_close(*_: Any) -> None:
            closed.set()

        connection.close_callbacks.add(on_close)
        try:
            channel = await connection.channel()
            channel.close_callbacks.add(on_close)
            await channel.set_qos(prefetch_count=PREFETCH)
            exchange = await channel.declare_exchange(
                self.settings.exchange, type=aio_pika.ExchangeType.FANOUT, durable=True
            )
            queue = await channel.declare_queue(self.settings.queue, durable=True)
            await queue.bind(exchange, "")
            await queue.consume(self._on_message)
            self.connected.set()
            logger.info(
                "Consuming %s at %s.", self.settings.queue, self.settings.display_url
            )
            self.wakeups.notify()  # catch up on what came while we were away
            await closed.wait()
        finally:
            self.connected.clear()
            if not connection.is_closed:
                await asyncio.shield(connection.close())

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.wakeups.notify(message)
