"""Rasa's RabbitMQ event broker, redacted, best effort and never in the way.

Configured in ``endpoints.yml`` as ``event_broker: type:
bot.event_broker.RedactingPikaEventBroker``; the broker itself reads
``SHEBAO_EVENT_BROKER_URL`` and ``SHEBAO_EVENT_QUEUE`` (``common.event_queue``).
Rasa stops reading ``endpoints.yml`` on a ``${VAR}`` that is not set, so the URL
is not spelled in that file: an unset or empty URL makes
:meth:`RedactingPikaEventBroker.from_endpoint_config` return ``None``, which
Rasa takes as "no event broker".

What reaches RabbitMQ (README, "Event broker"):

- from the tracker store (``bot.tracker_store``), after its commit, exactly
  the rows it stored: the redacted event dict, the *stored* sender id and the
  row id (``event_id``), so a consumer can be idempotent and re-read the row;
- anything else Rasa publishes through the generic :meth:`publish` (the
  in-memory fallback store of ``FailSafeTrackerStore`` when the database is
  down, ``rasa export``) is redacted here with the same redaction
  (``redact_value``, ``stored_sender_id``) before it leaves the process.

The database is the system of record; publishing is best effort.  Rasa's
``PikaEventBroker`` would make the server wait up to 20 × 5 s for RabbitMQ at
start and then refuse to start; this one connects in the background with
backoff, keeps what it could not send in a bounded buffer (the oldest are
dropped first; the console's poll still finds them in the database) and sends
it once aio-pika's robust connection is back.  Its log lines name the broker
without its password and never carry an event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from asyncio import AbstractEventLoop
from collections import deque
from typing import Any, Deque, Dict, Optional, Set, Text
from urllib.parse import urlsplit

import aio_pika
from rasa.core.brokers.pika import PikaEventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.tracker_store import sender_key, stored_sender_id
from common.event_queue import EventQueueSettings
from common.redaction import redact_value

logger = logging.getLogger(__name__)

BUFFER_SIZE = 10_000  # events kept while RabbitMQ is away (a few MB at most)
CONNECT_TIMEOUT = 10.0  # seconds for one connection attempt
PUBLISH_TIMEOUT = 10.0  # seconds for one publish and its confirmation
BACKOFF_FIRST = 0.5  # seconds before the second connection attempt
BACKOFF_MAX = 30.0  # ... doubling up to this


def _port(url: str) -> int:
    try:
        return urlsplit(url).port or 5672
    except ValueError:
        return 5672


class RedactingPikaEventBroker(PikaEventBroker):
    """Publishes redacted tracker events to ``SHEBAO_EVENT_QUEUE`` (RabbitMQ)."""

    def __init__(
        self,
        settings: EventQueueSettings,
        event_loop: Optional[AbstractEventLoop] = None,
        buffer_size: int = BUFFER_SIZE,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        """A broker for ``settings``; :meth:`start` connects in the background."""
        super().__init__(
            host=settings.url,
            username="",
            password="",
            port=_port(settings.url),
            queues=[settings.queue],
            should_keep_unpublished_messages=True,
            raise_on_failure=False,
            event_loop=event_loop,
            exchange_name=settings.exchange,
        )
        self.settings = settings
        self._connection: Optional[aio_pika.abc.AbstractRobustConnection] = None
        self._exchange: Optional[aio_pika.abc.AbstractExchange] = None
        self._sender_key = sender_key()
        self._unpublished_events: Deque[Dict[Text, Any]] = deque(maxlen=buffer_size)
        self._backoff_first = backoff_first
        self._backoff_max = backoff_max
        self._connect_task: Optional[asyncio.Task] = None
        self._tasks: Set[asyncio.Task] = set()
        self._failing = False
        self.dropped = 0  # events pushed out of the full buffer

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: Optional[EndpointConfig],
        event_loop: Optional[AbstractEventLoop] = None,
    ) -> Optional["RedactingPikaEventBroker"]:
        """The broker, connecting in the background; ``None`` without a URL."""
        settings = EventQueueSettings.from_env()
        if broker_config is None or not settings.enabled:
            logger.info("No event broker: SHEBAO_EVENT_BROKER_URL is not set.")
            return None
        broker = cls(settings, event_loop=event_loop)
        broker.start()
        return broker

    @property
    def buffered(self) -> int:
        """Events waiting for RabbitMQ."""
        return len(self._unpublished_events)

    def start(self) -> None:
        """Connect in the background; Rasa serves meanwhile."""
        if self._connect_task is None or self._connect_task.done():
            self._connect_task = self._loop.create_task(self._connect_with_backoff())

    async def _connect_with_backoff(self) -> None:
        delay = self._backoff_first
        while True:
            try:
                await self.connect()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: try again
                logger.warning(
                    "RabbitMQ at %s is unreachable (%s); next attempt in %.1f s. "
                    "Events stay in the tracker database.",
                    self.settings.display_url,
                    type(error).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)

    async def connect(self) -> None:
        """One connection attempt: the robust connection, exchange and queue."""
        connection = await aio_pika.connect_robust(
            self.settings.url, loop=self._loop, timeout=CONNECT_TIMEOUT
        )
        try:
            channel = await connection.channel()
            exchange = await self._set_up_exchange(channel)  # type: ignore[arg-type]
        except BaseException:
            await connection.close()
            raise
        connection.reconnect_callbacks.add(self._on_reconnect)
        self._connection = connection
        self._exchange = exchange
        logger.info(
            "RabbitMQ connection to %s established (queue %s).",
            self.settings.display_url,
            self.settings.queue,
        )
        self._publish_unpublished_messages()

    def _on_reconnect(self, *_: Any, **__: Any) -> None:
        logger.info(
            "RabbitMQ connection to %s is back; sending %d kept events.",
            self.settings.display_url,
            self.buffered,
        )
        self._publish_unpublished_messages()

    async def _set_up_exchange(
        self, channel: aio_pika.RobustChannel
    ) -> aio_pika.RobustExchange:
        """A *durable* fanout exchange bound to the durable queue(s)."""
        exchange = await channel.declare_exchange(
            self.exchange_name, type=aio_pika.ExchangeType.FANOUT, durable=True
        )
        for queue_name in self.queues:
            queue = await channel.declare_queue(queue_name, durable=True)
            await queue.bind(exchange, "")
        return exchange  # type: ignore[return-value]

    def publish(
        self, event: Dict[Text, Any], headers: Optional[Dict[Text, Text]] = None
    ) -> None:
        """Publish an event from anywhere in Rasa, redacted here first."""
        body = self._redacted(event)
        if body is not None:
            self._schedule(body)

    def publish_stored(self, body: Dict[Text, Any]) -> None:
        """Publish a row the tracker store wrote (already redacted, with its id)."""
        self._schedule(body)

    def _redacted(self, event: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
        sender = event.get("sender_id")
        data = redact_value({k: v for k, v in event.items() if k != "sender_id"})
        if not isinstance(data, dict):
            logger.warning("An event could not be redacted; it is not published.")
            return None
        body: Dict[Text, Any] = {}
        if isinstance(sender, str):
            body["sender_id"] = stored_sender_id(sender, self._sender_key)
        body.update(data)
        try:
            json.dumps(body)
        except (TypeError, ValueError):
            logger.warning("An event is not JSON; it is not published.")
            return None
        return body

    def _schedule(self, body: Dict[Text, Any]) -> None:
        try:
            task = self._loop.create_task(self._publish(body))
        except RuntimeError:  # the loop is closing: the database has the event
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep(self, body: Dict[Text, Any]) -> None:
        if len(self._unpublished_events) == self._unpublished_events.maxlen:
            if not self.dropped:
                logger.warning(
                    "The event buffer is full (%d); the oldest events are dropped "
                    "(they stay in the tracker database).",
                    self._unpublished_events.maxlen,
                )
            self.dropped += 1
        self._unpublished_events.append(body)

    async def _publish(
        self, event: Dict[Text, Any], headers: Optional[Dict[Text, Text]] = None
    ) -> None:
        """Send one message; on any failure keep it for the reconnect."""
        exchange = self._exchange
        if exchange is None:
            self._keep(event)
            return
        try:
            message = self._message(event, headers)
            await asyncio.wait_for(exchange.publish(message, ""), PUBLISH_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - best effort: keep and go on
            if not self._failing:
                logger.warning(
                    "Publishing to RabbitMQ at %s failed (%s); events are kept "
                    "until it is back.",
                    self.settings.display_url,
                    type(error).__name__,
                )
            self._failing = True
            self._keep(event)
            return
        self._failing = False
        if self._unpublished_events:  # kept by a publish that failed meanwhile
            self._publish_unpublished_messages()

    def _publish_unpublished_messages(self, *_: Any, **__: Any) -> None:
        while self._unpublished_events:
            self._schedule(self._unpublished_events.popleft())

    def is_ready(self) -> bool:
        """Connected and not reconnecting."""
        connection = self._connection
        return bool(
            connection is not None
            and not connection.is_closed
            and connection.connected.is_set()
        )

    async def close(self) -> None:
        """Stop connecting, give pending publishes a moment, close the connection."""
        if self._connect_task is not None:
            self._connect_task.cancel()
            await asyncio.gather(self._connect_task, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        connection, self._connection = self._connection, None
        self._exchange = None
        if connection is not None:
            await connection.close()
