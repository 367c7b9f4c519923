"""The event queue both ends agree on: Rasa publishes to it, the console consumes.

Rasa (``bot.event_broker``) and the review console (``console.event_queue``)
are separate deployables that must name the same RabbitMQ objects, so the
names and their settings live here once:

- ``SHEBAO_EVENT_BROKER_URL``: ``amqp://user:password@host:5672/vhost``; empty
  (the default) means no broker at all — Rasa publishes nothing and the
  console only polls the tracker database;
- ``SHEBAO_EVENT_QUEUE``: the durable queue (``shebao.events``), bound to a
  durable fanout exchange of the same name, so several Rasa servers publish
  into one queue and the queue outlives a RabbitMQ restart.

The URL carries the broker's password: :func:`censored_url` is what may be
logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from common.env import ConfigError, env_secret, env_str

URL_SCHEMES = ("amqp", "amqps")
MAX_NAME_LENGTH = 255  # AMQP short string


def censored_url(url: str) -> str:
    """``url`` with its password replaced by ``******``, for logs and errors."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{user}:******@{host}{port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # an unparsable URL may still hold a password
        return "<unparsable URL>"


@dataclass(frozen=True)
class EventQueueSettings:
    """Where events go; ``enabled`` is false without a broker URL."""

    url: str = ""
    queue: str = "shebao.events"

    def __post_init__(self) -> None:
        if self.url:
            try:
                scheme = urlsplit(self.url).scheme
            except ValueError:
                scheme = ""
            if scheme not in URL_SCHEMES:
                raise ConfigError(
                    "SHEBAO_EVENT_BROKER_URL must be an amqp:// or amqps:// URL, "
                    f"not {censored_url(self.url)!r}"
                )
        if not self.queue or len(self.queue.encode("utf-8")) > MAX_NAME_LENGTH:
            raise ConfigError("SHEBAO_EVENT_QUEUE must be 1 to 255 bytes long")

    @property
    def enabled(self) -> bool:
        """Whether a broker is configured at all."""
        return bool(self.url)

    @property
    def exchange(self) -> str:
        """The fanout exchange publishers send to: named like the queue."""
        return self.queue

    @property
    def display_url(self) -> str:
        """The URL as it may be logged."""
        return censored_url(self.url)

    @classmethod
    def from_env(
        cls, environ: Optional[Mapping[str, str]] = None
    ) -> "EventQueueSettings":
        """``SHEBAO_EVENT_BROKER_URL`` and ``SHEBAO_EVENT_QUEUE``."""
        return cls(
            url=env_secret("SHEBAO_EVENT_BROKER_URL", "", environ).strip(),
            queue=env_str("SHEBAO_EVENT_QUEUE", "shebao.events", environ).strip(),
        )
