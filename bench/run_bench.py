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
from typing import Dict, List, Optional

import aiohttp

from bench.conversations import SHEBAO_GUIDANCE, STOCK_MOODBOT, Conversation
from bot.devstack import Service, Stack, build_stack, free_port
from bot.settings import StackSettings

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
    session: aiohttp.ClientSession, url: str, conversation: Conversation, latencies: List[float]
) -> None:
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    for text in conversation:
        start = time.perf_counter()
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        latencies.append(time.perf_counter() - start)


async def single_user(url: str, conversations: List[Conversation], rounds: int) -> List[float]:
    latencies: List[float] = []
    async with aiohttp.ClientSession() as session:
        for conversation in conversations[:1]:  # warm-up, not measured
            await run_conversation(session, url, conversation, [])
        for _, conversation in zip(range(rounds), itertools.cycle(conversations)):
            await run_conversation(session, url, conversation, latencies)
    return latencies


async def saturated(url: str, conversations: List[Conversation], users: int, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    turns: List[float] = []

    async def user(offset: int) -> None:
        async with aiohttp.ClientSession() as session:
            for conversation in itertools.islice(itertools.cycle(conversations), offset, None):
                if time.monotonic() > deadline:
                    return
                await run_conversation(session, url, conversation, turns)

    start = time.monotonic()
    await asyncio.gather(*(user(i) for i in range(users)))
    return len(turns) / (time.monotonic() - start)


def measure(name: str, url: str, conversations: List[Conversation], pids: List[int], args) -> Result:
    latencies = asyncio.run(single_user(url, conversations, args.rounds))
    throughput = asyncio.run(saturated(url, conversations, args.users, args.seconds))
    ordered = sorted(latencies)
    return Result(
        name=name,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[int(0.95 * (len(ordered) - 1))] * 1000,
        turns_per_s=throughput,
        peak_rss_mb=peak_rss_mb(pids),
    )


def stock_bot(workdir: Path) -> Stack:
    """Train a stock `rasa init` bot in ``workdir`` and describe its server."""
    rasa = str(Path(sys.executable).with_name("rasa"))
    print(f">> training a stock `rasa init` bot in {workdir} ...", flush=True)
    subprocess.run([rasa, "init", "--no-prompt", "--init-dir", str(workdir)],
                   check=True, cwd=workdir, stdout=subprocess.DEVNULL)
    port = free_port()
    settings = StackSettings(workdir, "127.0.0.1", port, 0, 0, 0, workdir / "models")
    service = Service(
        "stock-rasa",
        [rasa, "run", "--model", str(workdir / "models"), "--port", str(port),
         "--interface", "127.0.0.1"],
        f"http://127.0.0.1:{port}/",
        cwd=workdir,  # its own endpoints.yml and credentials.yml
    )
    return Stack(settings, dict(os.environ), [service], workdir / "logs")


def print_table(results: List[Result]) -> None:
    print("\n%-22s %10s %10s %12s %14s" % ("bot", "p50 ms", "p95 ms", "turns/s", "peak RSS MB"))
    for r in results:
        print("%-22s %10.1f %10.1f %12.1f %14.0f" % (r.name, r.p50_ms, r.p95_ms, r.turns_per_s, r.peak_rss_mb))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16, help="concurrent users when saturated")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the saturated run")
    parser.add_argument("--rounds", type=int, default=20, help="single-user conversations measured")
    args = parser.parse_args(argv)

    results: List[Result] = []
    with tempfile.TemporaryDirectory(prefix="shebao-bench-") as tmp:
        settings = StackSettings(
            Path(tmp) / "run", "127.0.0.1", free_port(), free_port(), free_port(), free_port(),
            REPO_ROOT / "var" / "models",
        )
        ours = build_stack(settings).start()
        try:
            pids = [s.process.pid for s in ours.services if s.process]
            url = f"{ours.rasa_url}/webhooks/rest/webhook"
            results.append(measure("shebao (guidance)", url, SHEBAO_GUIDANCE, pids, args))
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
    print("targets: single-user p50 <= 40 ms; throughput >= stock")
    return 0


if __name__ == "__main__":
    sys.exit(main())
