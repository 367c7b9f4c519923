"""The storage seam: the same behaviour in memory and in Redis, plus each one's own."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest

from common.redis_storage import RedisStorage
from common.storage import MemoryStorage, Storage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Storage:
    """Each behavioural test runs on both implementations."""
    if request.param == "memory":
        return MemoryStorage()
    make: Callable[[str], RedisStorage] = request.getfixturevalue("redis_storage")
    return make("test")


# ---- the seam's contract, for every implementation ------------------------------
def test_values_round_trip_as_json(storage: Storage) -> None:
    value: Any = {"x": 1, "list": [1, "二"], "none": None, "flag": True}
    storage.set("a", value, ttl=60)
    assert storage.get("a") == value
    storage.set("b", "text", ttl=60)
    assert storage.get("b") == "text" and storage.get("missing") is None


def test_replacing_a_key_replaces_its_value(storage: Storage) -> None:
    storage.set("a", 1, ttl=60)
    storage.set("a", 2, ttl=60)
    assert storage.get("a") == 2


def test_delete_and_non_positive_ttl_forget(storage: Storage) -> None:
    storage.set("a", 1, ttl=60)
    storage.delete("a")
    storage.delete("never-there")
    storage.set("b", 1, ttl=60)
    storage.set("b", 1, ttl=0)
    assert storage.get("a") is None and storage.get("b") is None


def test_add_stores_only_when_absent(storage: Storage) -> None:
    assert storage.add("claim", {"by": "first"}, ttl=60) is True
    assert storage.add("claim", {"by": "second"}, ttl=60) is False
    assert storage.get("claim") == {"by": "first"}
    assert storage.add("other", 1, ttl=0) is False and storage.get("other") is None
    storage.delete("claim")
    assert storage.add("claim", {"by": "third"}, ttl=60) is True


def test_values_expire_after_their_ttl(storage: Storage) -> None:
    storage.set("short", 1, ttl=0.15)
    storage.set("long", 2, ttl=60)
    assert storage.add("claim", 3, ttl=0.15)
    time.sleep(0.3)
    assert storage.get("short") is None and storage.get("long") == 2
    assert storage.add("claim", 4, ttl=60)  # an expired claim can be taken again


# ---- Redis across replicas --------------------------------------------------------
async def test_two_replicas_racing_for_one_claim_get_it_once(
    redis_storage: Callable[[str], RedisStorage],
) -> None:
    replicas = [redis_storage("wechat") for _ in range(2)]

    async def claim(storage: RedisStorage) -> bool:
        return await asyncio.to_thread(storage.add, "dedup:msg:1", "mine", 60)

    for _ in range(20):
        results = await asyncio.gather(*(claim(r) for r in replicas * 4))
        assert sorted(results) == [False] * 7 + [True]
        replicas[0].delete("dedup:msg:1")


def test_replicas_see_each_others_values_and_namespaces_are_apart(
    redis_storage: Callable[[str], RedisStorage],
) -> None:
    one, two, other = redis_storage("ns"), redis_storage("ns"), redis_storage("x")
    one.set("k", {"v": 1}, ttl=60)
    assert two.get("k") == {"v": 1} and other.get("k") is None


# ---- memory's own -----------------------------------------------------------------
def test_memory_values_live_for_their_ttl() -> None:
    clock = Clock()
    storage = MemoryStorage(clock=clock)
    storage.set("a", {"x": 1}, ttl=10)
    clock.now = 9.9
    assert storage.get("a") == {"x": 1}
    clock.now = 10.0
    assert storage.get("a") is None and len(storage) == 0


def test_memory_replacing_a_key_renews_its_lifetime() -> None:
    clock = Clock()
    storage = MemoryStorage(clock=clock)
    storage.set("a", 1, ttl=5)
    clock.now = 4
    storage.set("a", 2, ttl=5)
    clock.now = 8
    assert storage.get("a") == 2


def test_memory_add_takes_an_expired_key() -> None:
    clock = Clock()
    storage = MemoryStorage(clock=clock)
    assert storage.add("a", 1, ttl=5)
    clock.now = 5
    assert storage.add("a", 2, ttl=5) and storage.get("a") == 2


def test_size_cap_drops_the_entries_closest_to_expiry() -> None:
    storage = MemoryStorage(max_entries=2)
    storage.set("soon", 1, ttl=1)
    storage.set("later", 2, ttl=100)
    storage.set("latest", 3, ttl=50)
    assert storage.get("soon") is None
    assert storage.get("later") == 2 and storage.get("latest") == 3


def test_stale_heap_entries_are_compacted() -> None:
    storage = MemoryStorage()
    for round_ in range(200):
        storage.set("same", round_, ttl=1000)
    assert len(storage._deadlines) < 200 and storage.get("same") == 199
