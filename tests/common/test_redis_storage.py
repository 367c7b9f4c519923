"""Redis storage: sealed and hashed, chosen by the environment, failing cleanly."""

from __future__ import annotations

import json
import time
from typing import Callable, Dict

import pytest

from common.deployment import UnsafeForProduction
from common.redis_storage import (
    RedisStorage,
    key_digest,
    redis_client,
    storage_from_env,
)
from common.storage import MemoryStorage, StorageUnavailable
from tests.support.redis_fixtures import SECRET, dump_prefix
from tests.support.tcp_proxy import TcpProxy

ID_NUMBER = "11010519491231002X"
SENDER = "web:session-secret-of-a-browser"


def test_redis_holds_no_readable_key_or_value(
    redis_storage: Callable[[str], RedisStorage], redis_url: str, redis_prefix: str
) -> None:
    storage = redis_storage("identity")
    storage.set("pending:" + SENDER, {"id_number": ID_NUMBER}, ttl=60)
    [(key, value)] = dump_prefix(redis_url, redis_prefix)
    assert (
        key.decode()
        == f"{redis_prefix}identity:{key_digest(SECRET, 'pending:' + SENDER)}"
    )
    assert SENDER.encode() not in key and b"pending" not in key
    assert ID_NUMBER.encode() not in value and b"id_number" not in value
    assert storage.get("pending:" + SENDER) == {"id_number": ID_NUMBER}


def test_the_ttl_is_redis_own(
    redis_storage: Callable[[str], RedisStorage], redis_url: str
) -> None:
    storage = redis_storage("ttl")
    storage.set("k", 1, ttl=30)
    milliseconds = redis_client(redis_url).pttl(storage.redis_key("k"))
    assert 29_000 < milliseconds <= 30_000


def test_a_value_moved_to_another_key_or_sealed_by_another_secret_does_not_open(
    redis_storage: Callable[[str], RedisStorage], redis_url: str, redis_prefix: str
) -> None:
    storage = redis_storage("ns")
    storage.set("victim", {"token": "t-victim"}, ttl=60)
    storage.set("attacker", {"token": "t-attacker"}, ttl=60)
    client = redis_client(redis_url)
    client.set(storage.redis_key("attacker"), client.get(storage.redis_key("victim")))
    assert storage.get("attacker") is None  # bound to its own key
    client.set(storage.redis_key("forged"), json.dumps({"token": "x"}))
    assert storage.get("forged") is None  # unsealed JSON is not believed
    other = RedisStorage(client, f"{redis_prefix}ns:", "another-secret-0123456789")
    assert other.get("victim") is None


def test_storage_from_env_picks_memory_or_redis(redis_env: Dict[str, str]) -> None:
    assert isinstance(storage_from_env("wechat", {}), MemoryStorage)
    assert isinstance(
        storage_from_env("wechat", {"SHEBAO_REDIS_URL": ""}), MemoryStorage
    )
    shared = storage_from_env("wechat", redis_env)
    assert isinstance(shared, RedisStorage)
    assert shared.prefix == redis_env["SHEBAO_REDIS_PREFIX"] + "wechat:"


def test_production_refuses_the_development_secret(redis_url: str) -> None:
    environ = {"SHEBAO_REDIS_URL": redis_url, "SHEBAO_ENV": "production"}
    with pytest.raises(UnsafeForProduction, match="SHEBAO_REDIS_SECRET"):
        storage_from_env("identity", environ)
    # Without Redis there is nothing to protect, and nothing to refuse.
    assert isinstance(
        storage_from_env("identity", {"SHEBAO_ENV": "production"}), MemoryStorage
    )


def test_a_redis_that_is_down_raises_storage_unavailable_quickly(
    closed_redis_url: str,
) -> None:
    storage = RedisStorage(redis_client(closed_redis_url), "shebaotest:", SECRET)
    started = time.monotonic()
    for call in (
        lambda: storage.get("k"),
        lambda: storage.set("k", 1, ttl=5),
        lambda: storage.add("k", 1, ttl=5),
        lambda: storage.delete("k"),
    ):
        with pytest.raises(StorageUnavailable) as raised:
            call()
        assert "shebaotest" not in str(raised.value)
    assert time.monotonic() - started < 4


def test_storage_works_again_once_redis_is_back(
    redis_url: str, redis_prefix: str
) -> None:
    with TcpProxy("127.0.0.1", 6379) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/0"
        storage = RedisStorage(redis_client(url), f"{redis_prefix}p:", SECRET)
        storage.set("k", "before", ttl=60)
        proxy.stop()
        with pytest.raises(StorageUnavailable):
            storage.get("k")
        with pytest.raises(StorageUnavailable):
            storage.set("k", "during", ttl=60)
        proxy.start()
        assert storage.get("k") == "before"  # the pool reconnected by itself
        storage.set("k", "after", ttl=60)
        assert storage.get("k") == "after"
