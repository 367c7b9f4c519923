"""Redis fixtures: the real server on 127.0.0.1:6379, under a random key prefix.

Each test gets its own prefix (``shebaotest<letters>:``), so tests and other
users of the same Redis never see each other's keys; every key under it is
deleted afterwards (never a FLUSH).  When no Redis answers, the tests that
need one are skipped with the reason.  ``closed_redis_url`` points at a port
nothing listens on, for the "Redis is down" tests.
"""

from __future__ import annotations

import socket
from typing import Any, Callable, Dict, Iterator, List

import pytest
import redis

from common.redis_storage import RedisStorage, redis_client
from tests.support.ids import random_tag

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "redis-test-secret-0123456789abcdef"


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis, or a skip when it does not answer."""
    if not _redis_answers():
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; everything under it is deleted after the test."""
    prefix = f"shebaotest{random_tag()}:"
    yield prefix
    client = redis_client(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_env(redis_url: str, redis_prefix: str) -> Dict[str, str]:
    """The environment of a process that shares its state in the test's Redis prefix."""
    return {
        "SHEBAO_REDIS_URL": redis_url,
        "SHEBAO_REDIS_PREFIX": redis_prefix,
        "SHEBAO_REDIS_SECRET": SECRET,
    }


@pytest.fixture
def redis_storage(redis_url: str, redis_prefix: str) -> Callable[[str], RedisStorage]:
    """``make(namespace)``: a RedisStorage under the test prefix (one per replica)."""

    def make(namespace: str = "test") -> RedisStorage:
        return RedisStorage(
            redis_client(redis_url), f"{redis_prefix}{namespace}:", SECRET
        )

    return make


def dump_prefix(redis_url: str, prefix: str) -> List[Any]:
    """Every key under ``prefix`` with its raw value, as a Redis reader sees them."""
    client = redis_client(redis_url)
    return [(key, client.get(key)) for key in client.scan_iter(match=prefix + "*")]


@pytest.fixture
def closed_redis_url() -> str:
    """A Redis URL on a loopback port where nothing listens (Redis is "down")."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
