"""Message rate limits of the channels, shared by every Rasa replica.

One resident types a few messages a minute; a script types hundreds.  Every
channel asks :meth:`MessageRateLimiter.allow` before a message becomes a Rasa
turn, with two moving-window limits (the `limits` library):

- per conversation (``SHEBAO_RATE_LIMIT``, ``30/minute``): the sender id, keyed
  together with the client fingerprint where the channel has one, so nobody can
  use up a victim's budget from another address;
- per client (``SHEBAO_RATE_LIMIT_CLIENT``, ``300/minute``): the keyed
  fingerprint of the address the server saw (:mod:`bot.channels.metadata`), so
  rotating sender ids does not help.  Generous on purpose: an office or a
  carrier's NAT puts many residents behind one address.  WeChat has no client
  here (every callback comes from WeChat's servers), only conversations.

Values are the `limits` notation, several separated by ``;`` (``30/minute;
200/hour``); ``off`` switches that limit off.  With ``SHEBAO_REDIS_URL``
the windows live in Redis under ``SHEBAO_REDIS_PREFIX`` + ``ratelimit/``, so all
replicas count together; the identifiers are keyed hashes
(:func:`common.redis_storage.key_digest`), never a sender id, OpenID or
address.  Without Redis each process counts its own.

When Redis cannot answer, a message is allowed (fail open: a rate limit must
not take the assistant down with Redis) and a warning without any identifier
is logged, at most once a minute.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, TypeVar

with warnings.catch_warnings():
    # limits 2.4 imports pkg_resources, which warns on import whatever filters a
    # process set up before (Sanic sets "once"): the notice is not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from limits import RateLimitItem, parse_many
    from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from common.env import ConfigError, env_str
from common.language import EN, ZH
from common.redis_storage import RedisSettings, key_digest, redis_client, run_command
from common.storage import StorageUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_CONVERSATION_LIMIT = "30/minute"
DEFAULT_CLIENT_LIMIT = "300/minute"
NAMESPACE = "ratelimit"
# Values that switch a limit off (an empty variable means its default).
OFF = frozenset({"", "off"})
# Seconds between two "Redis unavailable" warnings of one process.
WARNING_INTERVAL_SECONDS = 60.0

# What a resident over the limit is told instead of a Rasa answer.
RATE_LIMITED_NOTICE = {
    ZH: "您发送消息太频繁了，请稍等一分钟再试。",
    EN: "You are sending messages too quickly. Please wait a minute and try again.",
}
ERROR_REASON = "rate_limited"


def parse_limits(name: str, value: str) -> Tuple[RateLimitItem, ...]:
    """The limits of ``value`` (``off``: none); ``ConfigError`` naming ``name``."""
    if value.strip().lower() in OFF:
        return ()
    try:
        return tuple(parse_many(value))
    except ValueError:
        raise ConfigError(
            f"{name} must look like '30/minute' or '30/minute;200/hour', got {value!r}"
        ) from None


@dataclass(frozen=True)
class RateLimitSettings:
    """The two limits and where their windows are kept."""

    conversation: str = DEFAULT_CONVERSATION_LIMIT
    client: str = DEFAULT_CLIENT_LIMIT
    redis: RedisSettings = field(default_factory=RedisSettings)

    @classmethod
    def from_env(
        cls, environ: Optional[Mapping[str, str]] = None
    ) -> "RateLimitSettings":
        """``SHEBAO_RATE_LIMIT``, ``SHEBAO_RATE_LIMIT_CLIENT`` and the Redis settings."""
        settings = cls(
            conversation=env_str(
                "SHEBAO_RATE_LIMIT", DEFAULT_CONVERSATION_LIMIT, environ
            ),
            client=env_str("SHEBAO_RATE_LIMIT_CLIENT", DEFAULT_CLIENT_LIMIT, environ),
            redis=RedisSettings.from_env(environ),
        )
        settings.limits()  # refuse a malformed value at start-up
        return settings

    def limits(self) -> Tuple[Tuple[RateLimitItem, ...], Tuple[RateLimitItem, ...]]:
        """(per-conversation, per-client) limits, parsed."""
        return (
            parse_limits("SHEBAO_RATE_LIMIT", self.conversation),
            parse_limits("SHEBAO_RATE_LIMIT_CLIENT", self.client),
        )


@dataclass(frozen=True)
class Verdict:
    """Whether a message may become a turn; if not, when to try again."""

    allowed: bool
    retry_after: int = 0
    scope: str = ""


ALLOWED = Verdict(True)


class MessageRateLimiter:
    """Moving-window limits per conversation and per client, fail-open."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        conversation, client = settings.limits()
        namespace = f"{settings.redis.prefix}{NAMESPACE}"
        self._conversation = _in_namespace(conversation, namespace)
        self._client = _in_namespace(client, namespace)
        self._shared = bool(settings.redis.url)
        storage: Storage
        if self._shared:
            settings.redis.check_for_production()
            # The process's pool, with the storage seam's short timeouts.
            pool = redis_client(settings.redis.url).connection_pool
            storage = RedisStorage(settings.redis.url, connection_pool=pool)
        else:
            storage = MemoryStorage()
        # The strategy keeps only a weak reference: the storage lives here.
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._warned_at = -math.inf

    @classmethod
    def from_env(
        cls, environ: Optional[Mapping[str, str]] = None
    ) -> "MessageRateLimiter":
        """The limiter the environment describes (Redis with ``SHEBAO_REDIS_URL``)."""
        return cls(RateLimitSettings.from_env(environ))

    @property
    def enabled(self) -> bool:
        """False when both limits are switched off."""
        return bool(self._conversation or self._client)

    async def allow(
        self, channel: str, conversation: str, client: Optional[str] = None
    ) -> Verdict:
        """Count one message of ``conversation`` (from ``client``, if known).

        The conversation's limit is checked first, so a resident who is already
        over it does not also use up the budget of everyone behind the address.
        """
        if not self.enabled:
            return ALLOWED
        checks: List[Tuple[str, Sequence[RateLimitItem], str]] = [
            ("conversation", self._conversation, f"{client or ''}|{conversation}")
        ]
        if client:
            checks.append(("client", self._client, client))
        try:
            if self._shared:
                loop = asyncio.get_running_loop()
                verdict = await loop.run_in_executor(None, self._hit, channel, checks)
            else:
                verdict = self._hit(channel, checks)
        except StorageUnavailable as exc:
            self._warn(channel, str(exc))
            return ALLOWED
        if not verdict.allowed:
            logger.info(
                "rate_limit.exceeded channel=%s scope=%s retry_after=%d",
                channel,
                verdict.scope,
                verdict.retry_after,
            )
        return verdict

    def _hit(
        self, channel: str, checks: Sequence[Tuple[str, Sequence[RateLimitItem], str]]
    ) -> Verdict:
        for scope, items, identifier in checks:
            digest = key_digest(self.settings.redis.secret, f"{scope}:{identifier}")
            for item in items:
                hit = functools.partial(self._strategy.hit, item, channel, digest)
                if not self._run(hit):
                    return Verdict(
                        False, self._retry_after(item, channel, digest), scope
                    )
        return ALLOWED

    def _retry_after(self, item: RateLimitItem, channel: str, digest: str) -> int:
        """Seconds until the window is surely free again: `limits` 2.4 reports
        the newest entry's time, so this is an upper bound, never too early."""
        stats = functools.partial(
            self._strategy.get_window_stats, item, channel, digest
        )
        reset, _ = self._run(stats)
        return max(1, math.ceil(reset - time.time()))

    def _run(self, command: Callable[[], T]) -> T:
        """``command()``; a Redis failure raised as StorageUnavailable."""
        return run_command(command) if self._shared else command()

    def _warn(self, channel: str, error: str) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
            self._warned_at = now
            logger.warning(
                "rate_limit.storage_unavailable channel=%s error=%s: messages are "
                "allowed unlimited until Redis answers again",
                channel,
                error,
            )


def _in_namespace(
    items: Sequence[RateLimitItem], namespace: str
) -> Tuple[RateLimitItem, ...]:
    """The items with their Redis keys under our prefix (`limits` uses LIMITER/)."""
    for item in items:
        item.namespace = namespace
    return tuple(items)


def rate_limited_notice(language: Optional[str]) -> str:
    """The polite "slow down" message in the resident's language (Chinese by default)."""
    return RATE_LIMITED_NOTICE.get(language or ZH, RATE_LIMITED_NOTICE[ZH])
