"""Start the scaled topology (tools/scaled.py) on throw-away databases, and clean up.

Each topology gets its own PostgreSQL databases (``<random prefix>_tracker`` ...),
its own Redis key prefix and its own RabbitMQ queue, so it can share the
machine's services with other test runs; :func:`remove_scaled_stack` drops and
deletes exactly those.  Fault tests kill, stop and restart single processes of
a running topology with :func:`kill_services`, :func:`stop_service` and
:func:`relaunch_service`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import psycopg2
import redis
import requests

from tests.support.ids import random_tag
from tools.devstack import Service, free_port
from tools.scaled import ScaledStack, build_scaled_stack, drop_databases
from tools.settings import LOCAL_BROKER_URL, LOCAL_REDIS_URL, ScaledSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
# The tracker store's key for hashed sender ids, known to the tests.
SENDER_KEY = "scaled-test-sender-key-" + random_tag(16)


def start_scaled_stack(
    replicas: int = 2,
    actions: int = 2,
    extra_env: Optional[Mapping[str, str]] = None,
    redis_url: str = LOCAL_REDIS_URL,
    broker_url: str = LOCAL_BROKER_URL,
    service_env: Optional[Mapping[str, Mapping[str, str]]] = None,
) -> ScaledStack:
    """The topology in development mode with the trained model in ``var/models``.

    ``redis_url``/``broker_url`` are what every process connects to (a
    :class:`~tests.support.tcp_proxy.TcpProxy` in front of the shared service
    for outage tests); ``service_env`` overrides variables of single processes
    by name (``{"console": {...}}``).
    """
    tag = random_tag(10)
    scaled = ScaledSettings(
        replicas=replicas,
        actions=actions,
        public_port=free_port(),
        db_prefix=f"test_scaled_{tag}",
        redis_url=redis_url,
        redis_prefix=f"shebao-test-{tag}:",
        broker_url=broker_url,
        event_queue=f"shebao.test.{tag}",
    )
    runs = REPO_ROOT / "var" / "test-runs"
    runs.mkdir(parents=True, exist_ok=True)
    stack = build_scaled_stack(
        scaled,
        var_dir=Path(tempfile.mkdtemp(prefix="scaled-", dir=runs)),
        model_path=REPO_ROOT / "var" / "models",
        extra_env={
            "SHEBAO_ENV": "development",
            # the throw-away PostgreSQL databases, whatever the shell exports
            "SHEBAO_TRACKER_URL": "",
            "DATABASE_URL": "",
            "CONSOLE_DATABASE_URL": "",
            "SHEBAO_TRACKER_SENDER_KEY": SENDER_KEY,
            # every test client is 127.0.0.1 (nginx passes the real peer address)
            "SHEBAO_RATE_LIMIT_CLIENT": "10000/minute",
            **(extra_env or {}),
        },
    )
    for name, variables in (service_env or {}).items():
        stack.service(name).env.update(variables)
    try:
        return stack.start()
    except BaseException:
        remove_scaled_stack(stack)
        raise


def remove_scaled_stack(
    stack: ScaledStack,
    redis_url: str = LOCAL_REDIS_URL,
    broker_url: str = LOCAL_BROKER_URL,
) -> None:
    """Stop every process, drop the databases, delete the Redis keys and the queue
    (on the shared Redis and RabbitMQ themselves, not through a test's proxy)."""
    stack.stop()
    scaled = stack.scaled
    drop_databases(
        scaled.postgres_url, [scaled.database(r) for r in stack.database_urls]
    )
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{scaled.redis_prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    asyncio.run(_delete_queue(broker_url, scaled.event_queue))


async def _delete_queue(url: str, queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue)  # a queue nobody declared is fine too
    except aio_pika.exceptions.ChannelClosed:
        pass
    finally:
        await connection.close()


def latest_code_any(stack: ScaledStack, id_number: str) -> str:
    """The newest code for ``id_number`` in any backend process's dev outbox.

    Each process keeps its own outbox (memory); the code is in the one whose
    ``/verification/start`` the action server reached through nginx.
    """
    messages: List[Dict[str, Any]] = []
    for backend in stack.replicas("backend"):
        response = requests.get(
            f"{stack.direct_url(backend)}/api/v1/dev/outbox",
            params={"id_number": id_number},
            timeout=35,
        )
        assert response.status_code == 200, response.text
        messages.extend(response.json()["messages"])
    assert messages, "no backend process sent a code"
    return max(messages, key=lambda m: m["sent_at"])["code"]


def stored_events(stack: ScaledStack, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation's events as the tracker store keeps them in PostgreSQL
    (a ``web:`` session id is stored as its keyed hash)."""
    from bot.tracker_store import stored_sender_id

    stored = stored_sender_id(sender_id, SENDER_KEY.encode("utf-8"))
    url = stack.database_urls["tracker"]
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT data FROM events WHERE sender_id = %s ORDER BY id", (stored,)
        )
        rows = cursor.fetchall()
    connection.close()
    return [json.loads(data) for (data,) in rows]


def access_log(stack: ScaledStack) -> List[str]:
    """nginx's access log lines (method, path without query, upstream)."""
    path = stack.log_dir / "nginx-access.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def kill_services(*services: Service) -> Tuple[float, float]:
    """``kill -9`` the processes (each its process group) at once: when the
    signals were sent and when every process was gone.

    The two differ by up to seconds for a big process on a busy machine: the
    kernel frees its memory before it closes its sockets, and until then the
    listening socket still accepts connections.
    """
    assert all(s.process is not None and s.process.poll() is None for s in services)
    killed_at = time.time()
    for service in services:
        assert service.process is not None
        os.killpg(service.process.pid, signal.SIGKILL)
    for service in services:
        assert service.process is not None
        service.process.wait(timeout=60)
    return killed_at, time.time()


def stop_service(service: Service) -> None:
    """Stop one process as an operator's ``systemctl stop`` would (SIGTERM)."""
    assert service.process is not None
    if service.process.poll() is None:
        os.killpg(service.process.pid, signal.SIGTERM)
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def relaunch_service(
    stack: ScaledStack, service: Service, timeout: float = 120.0
) -> None:
    """Start a stopped process again, same command, port and environment (its
    preparation — migrations, seeding — already ran), and wait until healthy.

    The new process replaces the old in ``stack.services``, so the stack's
    teardown stops it.
    """
    with open(stack.log_dir / f"{service.name}.log", "ab") as log:
        service.process = subprocess.Popen(
            service.command,
            cwd=service.cwd,
            env={**stack.env, **service.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited on restart; see its log")
        try:
            with urllib.request.urlopen(service.health_url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.3)
    raise TimeoutError(f"{service.name} not healthy at {service.health_url}")
