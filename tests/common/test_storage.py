"""The storage seam's memory implementation: lifetimes, size cap, ordered expiry."""

from __future__ import annotations

from common.storage import MemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_values_live_for_their_ttl() -> None:
    clock = Clock()
    storage = MemoryStorage(clock=clock)
    storage.set("a", {"x": 1}, ttl=10)
    clock.now = 9.9
    assert storage.get("a") == {"x": 1}
    clock.now = 10.0
    assert storage.get("a") is None and len(storage) == 0


def test_replacing_a_key_renews_its_lifetime() -> None:
    clock = Clock()
    storage = MemoryStorage(clock=clock)
    storage.set("a", 1, ttl=5)
    clock.now = 4
    storage.set("a", 2, ttl=5)
    clock.now = 8
    assert storage.get("a") == 2


def test_delete_and_non_positive_ttl_forget() -> None:
    storage = MemoryStorage()
    storage.set("a", 1, ttl=60)
    storage.delete("a")
    storage.delete("never-there")
    storage.set("b", 1, ttl=0)
    assert storage.get("a") is None and storage.get("b") is None


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
