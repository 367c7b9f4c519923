"""Two backend processes on one database: the limits hold exactly.

Each process counts rows in its own transaction, so without a lock two starts
for one ID number can both see "2 of 3" and both insert.  Here two real
``python -m backend serve`` processes share a throw-away PostgreSQL database
(or one SQLite file), and every burst is released at once from a barrier and
split across both:

- N starts for one ID number: exactly ``BACKEND_STARTS_PER_ID`` succeed, the
  rest get 429 ``rate_limited``, and only that many codes are sent;
- the same for one client's starts for N different ID numbers;
- N wrong guesses of one code: exactly ``max_code_attempts`` are counted as
  wrong, the rest (and then the right code) get 403 ``code_locked``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection, Dict, Iterator, List, Tuple

import pytest
import requests

from backend.migrate import upgrade
from backend.settings import DEV_ADMIN_TOKEN, DEV_CLIENT_SECRET
from tests.support.backend import (
    CLIENT_SECRET_HEADER,
    person_body,
    unique_id_number,
    wrong_code,
)
from tools.devstack import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTS_PER_ID = 3
STARTS_PER_CLIENT = 6
MAX_ATTEMPTS = 5  # BackendSettings.max_code_attempts
BURST = 16


@dataclass
class Process:
    """One running backend process."""

    url: str
    popen: "subprocess.Popen[str]"

    def post(self, path: str, body: Dict[str, Any], **headers: str) -> Any:
        return requests.post(self.url + path, json=body, headers=headers, timeout=30)

    def outbox(self, id_number: str) -> List[str]:
        response = requests.get(
            f"{self.url}/api/v1/dev/outbox", params={"id_number": id_number}, timeout=10
        )
        assert response.status_code == 200, response.text
        return [message["code"] for message in response.json()["messages"]]


def _start_process(database_url: str, run_dir: Path) -> Process:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BACKEND_", "DATABASE_URL", "SHEBAO_"))
    }
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        SHEBAO_VAR_DIR=str(run_dir),
        SHEBAO_ENV="development",
        BACKEND_MODE="development",
        BACKEND_PORT=str(port),
        DATABASE_URL=database_url,
        BACKEND_STARTS_PER_ID=str(STARTS_PER_ID),
        BACKEND_STARTS_PER_CLIENT=str(STARTS_PER_CLIENT),
    )
    log = open(run_dir / f"backend-{port}.log", "w", encoding="utf-8")  # noqa: SIM115
    popen = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.close()  # the child has its own copy
    return Process(f"http://127.0.0.1:{port}", popen)


def _wait_healthy(process: Process, deadline: float) -> None:
    while True:
        try:
            if requests.get(f"{process.url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert process.popen.poll() is None, "a backend process exited early"
        assert time.monotonic() < deadline, "a backend process did not become healthy"
        time.sleep(0.2)


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def backends(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuple[Process, Process]]:
    """Two backend processes on one fresh, migrated database: PostgreSQL (the
    advisory lock), and one SQLite file (its single writer lock)."""
    run_dir = tmp_path_factory.mktemp("two-backends")
    postgres, name = None, ""
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres")
        name = postgres.create_database()
        url = postgres.url(name)
    else:
        url = f"sqlite:///{run_dir / 'backend.sqlite3'}"
    processes: List[Process] = []
    try:
        upgrade(url)
        processes = [_start_process(url, run_dir) for _ in range(2)]
        deadline = time.monotonic() + 60
        for process in processes:
            _wait_healthy(process, deadline)
        yield processes[0], processes[1]
    finally:
        for process in processes:
            process.popen.terminate()
        for process in processes:
            try:
                process.popen.wait(20)
            except subprocess.TimeoutExpired:
                process.popen.kill()
        if postgres is not None:
            postgres.drop_database(name)


def _create_person(backend: Process, id_number: str) -> None:
    response = backend.post(
        "/api/v1/persons",
        person_body(id_number),
        Authorization=f"Bearer {DEV_ADMIN_TOKEN}",
    )
    assert response.status_code == 201, response.text


def _burst(calls: List[Tuple[Process, str, Dict[str, Any], Dict[str, str]]]) -> List:
    """Send every call at the same moment (one thread each); the responses."""
    barrier = threading.Barrier(len(calls))

    def send(call: Tuple[Process, str, Dict[str, Any], Dict[str, str]]) -> Any:
        process, path, body, headers = call
        barrier.wait(10)
        return process.post(path, body, **headers)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(send, calls))


def _as_client(key: str) -> Dict[str, str]:
    """Headers of the action server naming the resident ``key`` (a fresh counter)."""
    return {CLIENT_SECRET_HEADER: DEV_CLIENT_SECRET, "X-Client-Key": key}


def _outcomes(responses: Collection[Any]) -> Dict[Tuple[int, str], int]:
    """How many responses of each (status, error code)."""
    return dict(
        Counter(
            (r.status_code, r.json().get("error", "") if r.status_code != 200 else "")
            for r in responses
        )
    )


def test_parallel_starts_for_one_id_across_two_processes_respect_the_limit(
    backends: Tuple[Process, Process],
) -> None:
    first, second = backends
    id_number = unique_id_number()
    _create_person(first, id_number)
    headers = _as_client(f"per-id-{id_number}")
    calls = [
        (
            backends[n % 2],
            "/api/v1/verification/start",
            {"id_number": id_number},
            headers,
        )
        for n in range(BURST)
    ]
    responses = _burst(calls)
    assert _outcomes(responses) == {
        (200, ""): STARTS_PER_ID,
        (429, "rate_limited"): BURST - STARTS_PER_ID,
    }
    time.sleep(0.5)  # deliveries run in the background
    assert len(first.outbox(id_number)) + len(second.outbox(id_number)) == (
        STARTS_PER_ID
    )


def test_parallel_starts_of_one_client_across_two_processes_respect_the_limit(
    backends: Tuple[Process, Process],
) -> None:
    headers = _as_client(f"per-client-{time.time_ns()}")
    calls = [
        (
            backends[n % 2],
            "/api/v1/verification/start",
            {"id_number": unique_id_number()},
            headers,
        )
        for n in range(BURST)
    ]
    assert _outcomes(_burst(calls)) == {
        (200, ""): STARTS_PER_CLIENT,
        (429, "rate_limited"): BURST - STARTS_PER_CLIENT,
    }


def test_parallel_wrong_guesses_across_two_processes_never_exceed_the_attempts(
    backends: Tuple[Process, Process],
) -> None:
    first, _ = backends
    id_number = unique_id_number()
    _create_person(first, id_number)
    started = first.post(
        "/api/v1/verification/start",
        {"id_number": id_number},
        **_as_client(f"guess-{id_number}"),
    )
    assert started.status_code == 200, started.text
    time.sleep(0.3)
    [code] = first.outbox(id_number)
    guess = {"id_number": id_number, "code": wrong_code(code)}
    calls = [
        (backends[n % 2], "/api/v1/verification/check", guess, {}) for n in range(BURST)
    ]
    responses = _burst(calls)
    assert _outcomes(responses) == {
        (401, "wrong_code"): MAX_ATTEMPTS,
        (403, "code_locked"): BURST - MAX_ATTEMPTS,
    }
    remaining = sorted(
        r.json()["remaining_attempts"] for r in responses if r.status_code == 401
    )
    assert remaining == list(range(MAX_ATTEMPTS))  # each attempt counted once
    # The code is spent: even the right one, on either process, is refused.
    for process in backends:
        right = process.post(
            "/api/v1/verification/check", {"id_number": id_number, "code": code}
        )
        assert (right.status_code, right.json()["error"]) == (403, "code_locked")
