"""The shared lock store: exclusive across Rasa replicas, and a dead holder expires.

Two :class:`SharedLockStore` instances on the real Redis (a random prefix)
stand for two Rasa servers; a holder that dies is a real process that takes a
ticket with ``TICKET_LOCK_LIFETIME=1`` and exits without releasing it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import RedisTicketLockStore, SharedLockStore
from common.deployment import UnsafeForProduction
from common.redis_storage import RedisSettings, redis_client
from tests.support.redis_fixtures import dump_prefix
from tests.support.tcp_proxy import TcpProxy

REPO_ROOT = Path(__file__).resolve().parents[2]
CONVERSATION = "web:a-browser-session-secret"


def shared(env: Dict[str, str]) -> SharedLockStore:
    return SharedLockStore(settings=RedisSettings.from_env(env))


def test_endpoints_yml_names_the_shared_lock_store() -> None:
    endpoints = yaml.safe_load((REPO_ROOT / "endpoints.yml").read_text())
    assert endpoints["lock_store"] == {"type": "bot.lock_store.SharedLockStore"}


def test_rasa_creates_it_from_the_endpoint_config(
    redis_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EndpointConfig(type="bot.lock_store.SharedLockStore")
    for name in redis_env:
        monkeypatch.delenv(name, raising=False)
    in_memory = LockStore.create(config)
    assert isinstance(in_memory, SharedLockStore)
    assert isinstance(in_memory.store, InMemoryLockStore)
    for name, value in redis_env.items():
        monkeypatch.setenv(name, value)
    in_redis = LockStore.create(config)
    assert isinstance(in_redis, SharedLockStore)
    assert isinstance(in_redis.store, RedisTicketLockStore)
    assert in_redis.store.key_prefix == redis_env["SHEBAO_REDIS_PREFIX"] + "lock:"


def test_production_refuses_the_development_redis_secret(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = RedisSettings(url=redis_url)
    monkeypatch.delenv("SHEBAO_ENV", raising=False)
    with pytest.raises(UnsafeForProduction):
        SharedLockStore(settings=settings)


async def test_a_conversations_lock_is_exclusive_across_two_replicas(
    redis_env: Dict[str, str],
) -> None:
    one, two = shared(redis_env), shared(redis_env)
    order: List[str] = []
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with one.lock(CONVERSATION, wait_time_in_seconds=0.02):
            order.append("one in")
            holding.set()
            await release.wait()
            order.append("one out")

    async def second() -> None:
        await holding.wait()
        async with two.lock(CONVERSATION, wait_time_in_seconds=0.02):
            order.append("two in")

    tasks = [asyncio.ensure_future(first()), asyncio.ensure_future(second())]
    await holding.wait()
    await asyncio.sleep(0.3)  # the second replica keeps waiting meanwhile
    assert order == ["one in"]
    async with two.lock("another-conversation", wait_time_in_seconds=0.02):
        pass  # other conversations are not held up
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["one in", "one out", "two in"]
    assert one.get_lock(CONVERSATION) is None  # cleaned up once no one waits


def test_tickets_taken_at_once_on_two_replicas_are_all_distinct(
    redis_env: Dict[str, str],
) -> None:
    stores = [shared(redis_env), shared(redis_env)]
    tickets: List[int] = []
    start = threading.Barrier(8)

    def take(store: SharedLockStore) -> None:
        start.wait()
        for _ in range(10):
            tickets.append(store.issue_ticket(CONVERSATION, 30))

    threads = [threading.Thread(target=take, args=(s,)) for s in stores * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(tickets) == list(range(80))  # no ticket issued twice
    lock = stores[1].get_lock(CONVERSATION)
    assert lock is not None and len(lock.tickets) == 80


def test_redis_holds_only_a_hash_of_the_sender_id_and_the_key_expires(
    redis_env: Dict[str, str], redis_url: str, redis_prefix: str
) -> None:
    store = shared(redis_env)
    store.issue_ticket(CONVERSATION, 20)
    [(key, value)] = dump_prefix(redis_url, redis_prefix)
    assert key.startswith(f"{redis_prefix}lock:".encode())
    assert CONVERSATION.encode() not in key and b"session" not in value
    assert 20_000 < redis_client(redis_url).pttl(key) <= 25_000
    lock = store.get_lock(CONVERSATION)
    assert lock is not None and lock.conversation_id == CONVERSATION


async def test_the_lock_of_a_holder_that_died_expires_after_the_lifetime(
    redis_env: Dict[str, str],
) -> None:
    lifetime = 3
    holder = (
        "import os, time\n"
        "from bot.lock_store import SharedLockStore\n"
        "store = SharedLockStore()\n"
        f"ticket = store.issue_ticket({CONVERSATION!r})  # Rasa's default lifetime\n"
        "print(time.time(), flush=True)\n"
        "os._exit(0)  # dies holding the lock\n"
    )
    env = {**os.environ, **redis_env, "TICKET_LOCK_LIFETIME": str(lifetime)}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", holder],
        env=env,
        check=True,
        cwd=REPO_ROOT,
        timeout=60,
        capture_output=True,
        text=True,
    )
    issued = float(done.stdout.strip())
    survivor = shared(redis_env)
    held = survivor.get_lock(CONVERSATION)
    assert time.time() < issued + lifetime, "the holder took too long to start"
    assert held is not None and held.now_serving == 0  # still the dead one's turn
    async with survivor.lock(CONVERSATION, wait_time_in_seconds=0.05):
        acquired = time.time()
    # the dead holder's ticket ran out after TICKET_LOCK_LIFETIME, not Rasa's 60 s
    assert issued + lifetime - 0.1 <= acquired < issued + lifetime + 2


async def test_a_turn_right_behind_a_dead_holder_gets_the_lock_not_an_error(
    redis_env: Dict[str, str],
) -> None:
    """Every replica has the same lifetime and Rasa's 1 s wait step: the waiting
    ticket must not run out with the dead one (Rasa's own does: LockError, and
    the REST channel answers 200 with no reply; found by tests/scaled/test_faults.py)."""
    lifetime = 2
    dead, survivor = shared(redis_env), shared(redis_env)
    dead.issue_ticket(CONVERSATION, lifetime)  # its replica dies holding it
    issued = time.time()
    await asyncio.sleep(0.05)  # the resident's next message comes at once
    async with survivor.lock(CONVERSATION, lifetime, wait_time_in_seconds=1):
        acquired = time.time()
        lock = survivor.get_lock(CONVERSATION)
        assert lock is not None and [t.number for t in lock.tickets] == [1]
        # served with (about) a whole lifetime ahead, not the rest of one
        assert lock.tickets[0].expires - acquired >= lifetime - 0.5
    assert issued + lifetime - 0.1 <= acquired <= issued + lifetime + 1.5
    assert survivor.get_lock(CONVERSATION) is None


async def test_with_redis_down_turns_are_locked_in_the_process_and_redis_returns(
    redis_env: Dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with TcpProxy("127.0.0.1", 6379) as proxy:
        env = {**redis_env, "SHEBAO_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"}
        store = shared(env)
        async with store.lock(CONVERSATION, wait_time_in_seconds=0.02):
            assert store.store.get_lock(CONVERSATION) is not None  # held in Redis
        proxy.stop()
        order: List[str] = []

        async def turn(name: str) -> None:
            async with store.lock(CONVERSATION, wait_time_in_seconds=0.02):
                order.append(f"{name} in")
                await asyncio.sleep(0.05)
                order.append(f"{name} out")

        await asyncio.gather(turn("a"), turn("b"))
        # still one turn at a time within this replica
        assert order in (
            ["a in", "a out", "b in", "b out"],
            ["b in", "b out", "a in", "a out"],
        )
        assert "locking in this process" in caplog.text
        assert CONVERSATION not in caplog.text
        with pytest.raises(ZeroDivisionError):  # the turn's own errors propagate
            async with store.lock(CONVERSATION, wait_time_in_seconds=0.02):
                raise ZeroDivisionError
        proxy.start()
        async with store.lock(CONVERSATION, wait_time_in_seconds=0.02):
            assert store.store.get_lock(CONVERSATION) is not None  # Redis again
        assert store.local.get_lock(CONVERSATION) is None
