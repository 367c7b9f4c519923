"""Benchmark the assistant against a stock `rasa init` bot, in one run.

Starts our whole stack (model from ``var/models``) and, in a temporary folder,
a stock ``rasa init`` bot trained there; drives both through the REST channel
with the same load and prints, for each: single-user p50/p95 turn latency,
saturated throughput (turns/s with N concurrent users) and peak resident
memory of the serving processes; then their ratios.

Usage: ``python -m bench.run_bench [--users 16] [--seconds 20] [--rounds 20]``
(``make bench``).  Figures vary with the machine; the README records the ones
measured on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import aiohttp

from backend.settings import DEV_ADMIN_TOKEN
from bench.conversations import (
    INQUIRY_FOLLOW_UPS,
    INQUIRY_OPENERS,
    SHEBAO_GUIDANCE,
    STOCK_MOODBOT,
    Conversation,
)
from common.identity import make_id_number
from tools.devstack import Service, Stack, build_stack, free_port
from tools.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    name: str
    p50_ms: float
    p95_ms: float
    turns_per_s: float
    peak_rss_mb: float


def peak_rss_mb(pids: List[int]) -> float:
    """Sum of the peak resident set (VmHWM) of the processes and their children."""
    total_kb = 0
    for pid in pids:
        for proc in [pid] + _children(pid):
            try:
                for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total_kb += int(line.split()[1])
            except OSError:
                continue
    return total_kb / 1024


def _children(pid: int) -> List[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    kids = [int(p) for p in out]
    return kids + [g for k in kids for g in _children(k)]


async def run_conversation(
    session: aiohttp.ClientSession,
    url: str,
    conversation: Conversation,
    latencies: List[float],
) -> None:
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    for text in conversation:
        await timed_turn(session, url, sender, text, latencies)


async def timed_turn(
    session: aiohttp.ClientSession,
    url: str,
    sender: str,
    text: str,
    latencies: List[float],
) -> str:
    start = time.perf_counter()
    async with session.post(url, json={"sender": sender, "message": text}) as response:
        body = await response.text()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    latencies.append(time.perf_counter() - start)
    return body


async def run_inquiry(
    session: aiohttp.ClientSession,
    rasa_url: str,
    backend_url: str,
    id_number: str,
    language: int,
    latencies: List[float],
) -> None:
    """Ask for records, give the ID, give the code from the outbox, ask a follow-up."""
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    await timed_turn(session, rasa_url, sender, INQUIRY_OPENERS[language], latencies)
    reply = await timed_turn(session, rasa_url, sender, id_number, latencies)
    if "****" not in reply:
        raise RuntimeError(f"no code was sent: {reply}")
    async with session.get(
        f"{backend_url}/api/v1/dev/outbox", params={"id_number": id_number}
    ) as r:
        code = (await r.json())["messages"][-1]["code"]
    reply = await timed_turn(session, rasa_url, sender, code, latencies)
    if "2025" not in reply:
        raise RuntimeError(f"no records shown: {reply}")
    await timed_turn(session, rasa_url, sender, INQUIRY_FOLLOW_UPS[language], latencies)


def create_people(backend_url: str, count: int) -> List[str]:
    """Insured people for the inquiry load, through the admin API."""
    import requests

    admin = {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"}
    people = []
    for index in range(count):
        id_number = make_id_number(
            "510104", f"1980{index % 12 + 1:02d}15", f"{index % 1000:03d}"
        )
        body = {
            "id_number": id_number,
            "name": "压测居民",
            "residency_type": "urban",
            "region": "成都市锦江区",
            "phone": "13700000000",
            "enrollment": {
                "scheme": "urban_resident_medical",
                "since": "2024-01-01",
                "monthly_amount": "350.00",
            },
        }
        requests.post(
            f"{backend_url}/api/v1/persons", json=body, headers=admin, timeout=10
        )
        for month in range(1, 7):
            requests.post(
                f"{backend_url}/api/v1/persons/{id_number}/contributions",
                json={
                    "period": f"2025-{month:02d}",
                    "amount": "350.00",
                    "paid_on": f"2025-{month:02d}-10",
                    "channel": "bank",
                },
                headers=admin,
                timeout=10,
            )
        people.append(id_number)
    return people


async def single_user_inquiries(
    rasa_url: str, backend_url: str, people: List[str], rounds: int
) -> List[float]:
    latencies: List[float] = []
    async with aiohttp.ClientSession() as session:
        await run_inquiry(session, rasa_url, backend_url, people[0], 0, [])  # warm-up
        for index in range(rounds):
            await run_inquiry(
                session,
                rasa_url,
                backend_url,
                people[(index + 1) % len(people)],
                index % 2,
                latencies,
            )
    return latencies


def percentiles(latencies: List[float]) -> Tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1000, ordered[
        int(0.95 * (len(ordered) - 1))
    ] * 1000


async def single_user(
    url: str, conversations: List[Conversation], rounds: int
) -> List[float]:
    latencies: List[float] = []
    async with aiohttp.ClientSession() as session:
        for conversation in conversations[:1]:  # warm-up, not measured
            await run_conversation(session, url, conversation, [])
        for _, conversation in zip(range(rounds), itertools.cycle(conversations)):
            await run_conversation(session, url, conversation, latencies)
    return latencies


async def saturated(
    url: str, conversations: List[Conversation], users: int, seconds: float
) -> float:
    deadline = time.monotonic() + seconds
    turns: List[float] = []

    async def user(offset: int) -> None:
        async with aiohttp.ClientSession() as session:
            for conversation in itertools.islice(
                itertools.cycle(conversations), offset, None
            ):
                if time.monotonic() > deadline:
                    return
                await run_conversation(session, url, conversation, turns)

    start = time.monotonic()
    await asyncio.gather(*(user(i) for i in range(users)))
    return len(turns) / (time.monotonic() - start)


def measure(
    name: str, url: str, conversations: List[Conversation], pids: List[int], args
) -> Result:
    latencies = asyncio.run(single_user(url, conversations, args.rounds))
    throughput = asyncio.run(saturated(url, conversations, args.users, args.seconds))
    p50, p95 = percentiles(latencies)
    return Result(
        name=name,
        p50_ms=p50,
        p95_ms=p95,
        turns_per_s=throughput,
        peak_rss_mb=peak_rss_mb(pids),
    )


def stock_bot(workdir: Path) -> Stack:
    """Train a stock `rasa init` bot in ``workdir`` and describe its server."""
    rasa = str(Path(sys.executable).with_name("rasa"))
    print(f">> training a stock `rasa init` bot in {workdir} ...", flush=True)
    subprocess.run(
        [rasa, "init", "--no-prompt", "--init-dir", str(workdir)],
        check=True,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    settings = StackSettings(workdir, "127.0.0.1", port, 0, 0, 0, workdir / "models")
    service = Service(
        "stock-rasa",
        [
            rasa,
            "run",
            "--model",
            str(workdir / "models"),
            "--port",
            str(port),
            "--interface",
            "127.0.0.1",
        ],
        f"http://127.0.0.1:{port}/",
        cwd=workdir,  # its own endpoints.yml and credentials.yml
    )
    return Stack(settings, dict(os.environ), [service], workdir / "logs")


def print_table(results: List[Result]) -> None:
    print(
        "\n%-22s %10s %10s %12s %14s"
        % ("bot", "p50 ms", "p95 ms", "turns/s", "peak RSS MB")
    )
    for r in results:
        print(
            "%-22s %10.1f %10.1f %12.1f %14.0f"
            % (r.name, r.p50_ms, r.p95_ms, r.turns_per_s, r.peak_rss_mb)
        )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", type=int, default=16, help="concurrent users when saturated"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="length of the saturated run"
    )
    parser.add_argument(
        "--rounds", type=int, default=20, help="single-user conversations measured"
    )
    args = parser.parse_args(argv)

    results: List[Result] = []
    with tempfile.TemporaryDirectory(prefix="shebao-bench-") as tmp:
        settings = StackSettings(
            Path(tmp) / "run",
            "127.0.0.1",
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            REPO_ROOT / "var" / "models",
        )
        # Rate limits sized for a load test (defaults: 3 codes per ID per 10 min).
        ours = build_stack(
            settings,
            extra_env={
                # the committed WeChat dev token is refused outside development
                "SHEBAO_ENV": "development",
                "BACKEND_STARTS_PER_ID": "1000",
                "BACKEND_STARTS_PER_CLIENT": "1000",
            },
            with_web=False,
            with_console=False,  # not part of the serving processes measured
        ).start()
        try:
            pids = [
                s.process.pid
                for s in ours.services
                if s.process and s.name != "backend"
            ]
            url = f"{ours.rasa_url}/webhooks/rest/webhook"
            results.append(
                measure("shebao (guidance)", url, SHEBAO_GUIDANCE, pids, args)
            )
            people = create_people(ours.backend_url, 20)
            inquiry = asyncio.run(
                single_user_inquiries(
                    url, ours.backend_url, people, max(4, args.rounds // 2)
                )
            )
        finally:
            ours.stop()

        stock_dir = Path(tmp) / "stock"
        stock_dir.mkdir()
        stock = stock_bot(stock_dir).start()
        try:
            pids = [s.process.pid for s in stock.services if s.process]
            url = f"{stock.rasa_url}/webhooks/rest/webhook"
            results.append(measure("stock rasa init", url, STOCK_MOODBOT, pids, args))
        finally:
            stock.stop()

    print_table(results)
    ours_r, stock_r = results[0], results[-1]
    print(
        f"\nratio shebao/stock: p50 {ours_r.p50_ms / stock_r.p50_ms:.2f}x, "
        f"throughput {ours_r.turns_per_s / stock_r.turns_per_s:.2f}x, "
        f"peak RSS {ours_r.peak_rss_mb / stock_r.peak_rss_mb:.2f}x"
    )
    inquiry_p50, inquiry_p95 = percentiles(inquiry)
    print(
        f"\nverified inquiry turns (query, ID, code, follow-up; single user): "
        f"p50 {inquiry_p50:.1f} ms, p95 {inquiry_p95:.1f} ms "
        f"= {inquiry_p50 / ours_r.p50_ms:.2f}x / {inquiry_p95 / ours_r.p95_ms:.2f}x the guidance turns"
    )
    print(
        "targets: single-user p50 <= 40 ms; throughput >= stock; inquiry <= 2x guidance"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
