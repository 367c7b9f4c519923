"""The channels' message rate limiter: per conversation, per client, shared in
Redis by every replica, and open when Redis is down."""

from __future__ import annotations

import logging
from typing import Dict

import pytest

from bot.channels.rate_limit import (
    RATE_LIMITED_NOTICE,
    MessageRateLimiter,
    RateLimitSettings,
    rate_limited_notice,
)
from common.deployment import UnsafeForProduction
from common.env import ConfigError
from common.redis_storage import RedisSettings, redis_client
from tests.support.redis_fixtures import SECRET


def limiter(
    conversation: str = "3/minute", client: str = "5/minute", **redis: str
) -> MessageRateLimiter:
    return MessageRateLimiter(
        RateLimitSettings(conversation, client, RedisSettings(**redis))
    )


async def allowed(limiter: MessageRateLimiter, times: int, *who: str) -> int:
    """How many of ``times`` messages of ``who`` (conversation[, client]) pass."""
    passed = 0
    for _ in range(times):
        passed += (await limiter.allow("rest", *who)).allowed
    return passed


async def test_a_conversation_gets_its_limit_then_waits() -> None:
    limits = limiter()
    assert await allowed(limits, 3, "rest:alice", "ip-a") == 3
    verdict = await limits.allow("rest", "rest:alice", "ip-a")
    assert not verdict.allowed and verdict.scope == "conversation"
    assert 1 <= verdict.retry_after <= 60
    # Another conversation behind the same address is still served ...
    assert (await limits.allow("rest", "rest:bob", "ip-a")).allowed
    # ... and the same sender id from another address is another conversation:
    # nobody can use up a victim's budget from elsewhere.
    assert (await limits.allow("rest", "rest:alice", "ip-b")).allowed


async def test_rotating_sender_ids_meet_the_client_limit() -> None:
    limits = limiter(conversation="100/minute", client="5/minute")
    passed = [
        (await limits.allow("rest", f"rest:bot-{n}", "ip-a")).allowed for n in range(8)
    ]
    assert passed == [True] * 5 + [False] * 3
    assert (await limits.allow("rest", "rest:bot-9", "ip-a")).scope == "client"
    assert (await limits.allow("rest", "rest:resident", "ip-b")).allowed


async def test_channels_without_a_client_count_conversations_only() -> None:
    limits = limiter(conversation="2/minute", client="1/minute")
    assert await allowed(limits, 3, "wechat:o1") == 2
    assert await allowed(limits, 2, "wechat:o2") == 2


async def test_several_limits_and_switching_off() -> None:
    limits = limiter(conversation="5/minute;2/second", client="")
    assert await allowed(limits, 4, "rest:alice", "ip-a") == 2
    off = MessageRateLimiter.from_env(
        {"SHEBAO_RATE_LIMIT": "off", "SHEBAO_RATE_LIMIT_CLIENT": "OFF"}
    )
    assert not off.enabled
    assert await allowed(off, 50, "rest:alice", "ip-a") == 50


@pytest.mark.parametrize("value", ["30", "thirty/minute", "30/fortnight", "30 per"])
def test_a_malformed_limit_is_refused_at_start_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="SHEBAO_RATE_LIMIT_CLIENT"):
        RateLimitSettings.from_env({"SHEBAO_RATE_LIMIT_CLIENT": value})


def test_defaults() -> None:
    settings = RateLimitSettings.from_env({})
    assert (settings.conversation, settings.client) == ("30/minute", "300/minute")
    assert settings.redis.url == ""


def test_the_notice_speaks_the_residents_language() -> None:
    assert rate_limited_notice("en") == RATE_LIMITED_NOTICE["en"]
    assert (
        rate_limited_notice(None)
        == rate_limited_notice("fr")
        == (RATE_LIMITED_NOTICE["zh"])
    )


async def test_two_replicas_share_the_windows_in_redis(
    redis_env: Dict[str, str], redis_url: str, redis_prefix: str
) -> None:
    env = {**redis_env, "SHEBAO_RATE_LIMIT": "4/minute"}
    first, second = MessageRateLimiter.from_env(env), MessageRateLimiter.from_env(env)
    assert await allowed(first, 2, "web:abc", "ip-9f") == 2
    assert await allowed(second, 2, "web:abc", "ip-9f") == 2
    assert not (await first.allow("rest", "web:abc", "ip-9f")).allowed
    assert not (await second.allow("rest", "web:abc", "ip-9f")).allowed
    # Keys under the test prefix, naming neither the sender id nor the client.
    client = redis_client(redis_url)
    keys = [key.decode() for key in client.scan_iter(match=redis_prefix + "*")]
    assert keys, "nothing was written to Redis"
    for name in keys:
        assert name.startswith(f"{redis_prefix}ratelimit/")
        assert "abc" not in name and "ip-9f" not in name and "web:" not in name


async def test_redis_down_lets_messages_through_with_one_warning(
    closed_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    limits = limiter("2/minute", "2/minute", url=closed_redis_url, secret=SECRET)
    with caplog.at_level(logging.WARNING, logger="bot.channels.rate_limit"):
        assert await allowed(limits, 5, "rest:alice", "ip-a") == 5
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "rate_limit.storage_unavailable" in warnings[0]
    assert "alice" not in warnings[0] and "ip-a" not in warnings[0]


def test_production_refuses_shared_windows_under_the_development_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "production")
    with pytest.raises(UnsafeForProduction, match="SHEBAO_REDIS_SECRET"):
        MessageRateLimiter.from_env({"SHEBAO_REDIS_URL": "redis://127.0.0.1:1/0"})
