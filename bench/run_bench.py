"""Benchmark the assistant against a stock `rasa init` bot, in one run.

Starts our whole stack (model from ``var/models``) and, in a temporary folder,
a stock ``rasa init`` bot trained there, both at once, and drives both through
the REST channel with the SAME texts (our guidance conversations; the stock
bot's answers do not matter), interleaved so that the machine's load drifts
alike for both.  Prints:

(a) single-user p50/p95 turn latency and saturated throughput (turns/s with
    N concurrent users), each ``--repeat`` times, with the ratios ours/stock;
(b) growth: one sender, ``--growth-turns`` turns in a row, median per 20-turn
    block for both bots, ratio of the last block over the first;
(c) store size: our single-user p50 with an empty tracker store and with
    ``--store-conversations`` other conversations written straight into it,
    on SQLite and on PostgreSQL (127.0.0.1:5432, a throwaway database);
(d) verified inquiry turns (records question, ID number, code, follow-up)
    against the guidance turns.

Usage: ``python -m bench.run_bench [--users 16] [--seconds 20] [--rounds 20]``
(``make bench``).  Every load loop is bounded in count and time; all traffic
is on loopback.  ``python -m bench.profile_turn`` profiles turns in-process.
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
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import aiohttp

from backend.settings import DEV_ADMIN_TOKEN
from bench import store_fill
from bench.conversations import (
    INQUIRY_FOLLOW_UPS,
    INQUIRY_OPENERS,
    SHEBAO_GUIDANCE,
    Conversation,
)
from bench.profile_turn import guidance_texts
from common.identity import make_id_number
from tools.devstack import Service, Stack, build_stack, free_port
from tools.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = aiohttp.ClientTimeout(total=60)


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
    async with session.post(
        url, json={"sender": sender, "message": text}, timeout=TIMEOUT
    ) as response:
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


async def single_user_pair(
    urls: List[str], conversations: List[Conversation], rounds: int
) -> List[List[float]]:
    """The same conversations, one user, alternating between the bots."""
    latencies: List[List[float]] = [[] for _ in urls]
    async with aiohttp.ClientSession() as session:
        for url in urls:  # warm-up, not measured
            await run_conversation(session, url, conversations[0], [])
        for _, conversation in zip(range(rounds), itertools.cycle(conversations)):
            for url, measured in zip(urls, latencies, strict=True):
                await run_conversation(session, url, conversation, measured)
    return latencies


async def saturated(
    url: str, conversations: List[Conversation], users: int, seconds: float
) -> float:
    deadline = time.monotonic() + seconds
    turns: List[float] = []

    async def user(offset: int) -> None:
        async with aiohttp.ClientSession() as session:
            for conversation in itertools.islice(
                itertools.cycle(conversations), offset, offset + 100_000
            ):
                if time.monotonic() > deadline:
                    return
                await run_conversation(session, url, conversation, turns)

    start = time.monotonic()
    await asyncio.gather(*(user(i) for i in range(users)))
    return len(turns) / (time.monotonic() - start)


async def growth_pair(
    urls: List[str], turns: int, max_seconds: float
) -> List[List[float]]:
    """One sender per bot, ``turns`` guidance turns in a row, alternating bots."""
    latencies: List[List[float]] = [[] for _ in urls]
    senders = [f"bench-long-{uuid.uuid4().hex[:10]}" for _ in urls]
    deadline = time.monotonic() + max_seconds
    async with aiohttp.ClientSession() as session:
        for text in guidance_texts(turns):
            if time.monotonic() > deadline:
                print("!! growth run stopped at its time bound", flush=True)
                break
            for url, sender, measured in zip(urls, senders, latencies, strict=True):
                await timed_turn(session, url, sender, text, measured)
    return latencies


def block_medians(latencies: List[float], block: int = 20) -> List[float]:
    return [
        statistics.median(latencies[i : i + block]) * 1000
        for i in range(0, len(latencies), block)
        if latencies[i : i + block]
    ]


def start_ours(run_dir: Path, tracker_url: Optional[str] = None) -> Stack:
    settings = StackSettings(
        run_dir,
        "127.0.0.1",
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        REPO_ROOT / "var" / "models",
    )
    extra = {
        # the committed WeChat dev token is refused outside development
        "SHEBAO_ENV": "development",
        # Rate limits sized for a load test (defaults: 3 codes per ID per 10 min).
        "BACKEND_STARTS_PER_ID": "1000",
        "BACKEND_STARTS_PER_CLIENT": "1000",
        # Message limits sized for a load from one address (defaults: 30 per
        # conversation, 300 per client a minute), still counted on every turn.
        "SHEBAO_RATE_LIMIT": "10000/minute",
        "SHEBAO_RATE_LIMIT_CLIENT": "10000/minute",
    }
    if tracker_url:
        extra["SHEBAO_TRACKER_URL"] = tracker_url
    return build_stack(
        settings,
        extra_env=extra,
        with_web=False,
        with_console=False,  # not part of the serving processes measured
    ).start()


def store_size(
    name: str, run_dir: Path, tracker_url: str, args: argparse.Namespace
) -> Dict[str, float]:
    """Our single-user p50 with 0 and with N other conversations in the store."""
    print(f">> store size on {name} ...", flush=True)
    stack = start_ours(run_dir, tracker_url)
    try:
        url = f"{stack.rasa_url}/webhooks/rest/webhook"
        rounds = max(4, args.rounds // 2)
        empty = asyncio.run(single_user_pair([url], SHEBAO_GUIDANCE, rounds))[0]
        template = store_fill.template_rows(tracker_url)
        seconds = store_fill.fill_other_conversations(
            tracker_url, args.store_conversations, template
        )
        if not tracker_url.startswith("postgresql"):
            store_fill.analyze_sqlite(tracker_url)
        print(
            f"   wrote {args.store_conversations} conversations "
            f"({len(template)} rows each) in {seconds:.0f} s",
            flush=True,
        )
        full = asyncio.run(single_user_pair([url], SHEBAO_GUIDANCE, rounds))[0]
    finally:
        stack.stop()
    p50_empty, _ = percentiles(empty)
    p50_full, _ = percentiles(full)
    return {"empty": p50_empty, "full": p50_full}


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
    parser.add_argument(
        "--repeat", type=int, default=2, help="repetitions of (a), for the noise"
    )
    parser.add_argument(
        "--growth-turns", type=int, default=160, help="turns of the growth run"
    )
    parser.add_argument(
        "--store-conversations",
        type=int,
        default=100_000,
        help="other conversations in the store for (c); 0 skips (c)",
    )
    args = parser.parse_args(argv)
    args.rounds = max(1, min(args.rounds, 1000))
    args.repeat = max(1, min(args.repeat, 10))
    args.seconds = max(1.0, min(args.seconds, 600.0))
    args.users = max(1, min(args.users, 256))
    args.growth_turns = max(20, min(args.growth_turns, 1000))

    singles: List[List[Tuple[float, float]]] = [[], []]
    throughput: List[List[float]] = [[], []]
    with tempfile.TemporaryDirectory(prefix="shebao-bench-") as tmp:
        ours = start_ours(Path(tmp) / "run")
        stock_dir = Path(tmp) / "stock"
        stock_dir.mkdir()
        try:
            stock = stock_bot(stock_dir).start()
        except BaseException:
            ours.stop()
            raise
        try:
            urls = [
                f"{ours.rasa_url}/webhooks/rest/webhook",
                f"{stock.rasa_url}/webhooks/rest/webhook",
            ]
            pids = [
                [
                    s.process.pid
                    for s in ours.services
                    if s.process and s.name != "backend"
                ],
                [s.process.pid for s in stock.services if s.process],
            ]
            for rep in range(args.repeat):
                print(f">> (a) round {rep + 1}/{args.repeat}", flush=True)
                pair = asyncio.run(single_user_pair(urls, SHEBAO_GUIDANCE, args.rounds))
                for index, latencies in enumerate(pair):
                    singles[index].append(percentiles(latencies))
                order = [0, 1] if rep % 2 == 0 else [1, 0]
                for index in order:
                    throughput[index].append(
                        asyncio.run(
                            saturated(
                                urls[index], SHEBAO_GUIDANCE, args.users, args.seconds
                            )
                        )
                    )
            print(f">> (b) growth: {args.growth_turns} turns, one sender", flush=True)
            grown = asyncio.run(growth_pair(urls, args.growth_turns, 900.0))
            print(">> (d) verified inquiries", flush=True)
            people = create_people(ours.backend_url, 20)
            inquiry = asyncio.run(
                single_user_inquiries(
                    urls[0], ours.backend_url, people, max(4, args.rounds // 2)
                )
            )
            rss = [peak_rss_mb(p) for p in pids]
        finally:
            stock.stop()
            ours.stop()

        stores: Dict[str, Dict[str, float]] = {}
        if args.store_conversations > 0:
            sqlite_dir = Path(tmp) / "store-sqlite"
            sqlite_dir.mkdir()
            stores["SQLite"] = store_size(
                "SQLite",
                sqlite_dir,
                f"sqlite:///{sqlite_dir / 'tracker.sqlite3'}",
                args,
            )
            if store_fill.postgres_available():
                with store_fill.temporary_postgres() as pg_url:
                    stores["PostgreSQL"] = store_size(
                        "PostgreSQL", Path(tmp) / "store-pg", pg_url, args
                    )
            else:
                print("!! PostgreSQL at 127.0.0.1:5432 not reachable; skipped")

    report(args, singles, throughput, rss, grown, inquiry, stores)
    return 0


def _spread(values: List[float]) -> str:
    if len(values) < 2:
        return ""
    mean = statistics.mean(values)
    return f" (runs: {', '.join(f'{v:.1f}' for v in values)}; ±{(max(values) - min(values)) / 2 / mean * 100:.0f} %)"


def report(
    args: argparse.Namespace,
    singles: List[List[Tuple[float, float]]],
    throughput: List[List[float]],
    rss: List[float],
    grown: List[List[float]],
    inquiry: List[float],
    stores: Dict[str, Dict[str, float]],
) -> None:
    names = ["shebao", "stock rasa init"]
    print("\n(a) same guidance texts to both bots")
    print(
        "%-18s %10s %10s %12s %14s"
        % ("bot", "p50 ms", "p95 ms", "turns/s", "peak RSS MB")
    )
    p50 = [statistics.median(p for p, _ in singles[i]) for i in range(2)]
    p95 = [statistics.median(q for _, q in singles[i]) for i in range(2)]
    tps = [statistics.median(throughput[i]) for i in range(2)]
    for i in range(2):
        print(
            "%-18s %10.1f %10.1f %12.1f %14.0f"
            % (names[i], p50[i], p95[i], tps[i], rss[i])
        )
    for i in range(2):
        print(f"  {names[i]}: p50{_spread([p for p, _ in singles[i]])}")
        print(f"  {names[i]}: turns/s{_spread(throughput[i])}")
    p50_ratios = [a[0] / b[0] for a, b in zip(singles[0], singles[1], strict=True)]
    tps_ratios = [a / b for a, b in zip(throughput[0], throughput[1], strict=True)]
    p50_ratio = statistics.median(p50_ratios)
    tps_ratio = statistics.median(tps_ratios)
    print(
        f"ratio shebao/stock: single-user p50 {p50_ratio:.2f}x "
        f"(runs: {', '.join(f'{r:.2f}' for r in p50_ratios)}), "
        f"throughput ({args.users} users) {tps_ratio:.2f}x "
        f"(runs: {', '.join(f'{r:.2f}' for r in tps_ratios)})"
    )

    print(
        f"\n(b) growth: one sender, {len(grown[0])} turns in a row, median ms per 20 turns"
    )
    blocks = [block_medians(g) for g in grown]
    print("%-10s %10s %10s" % ("turns", names[0], "stock"))
    for index, (a, b) in enumerate(zip(*blocks, strict=True)):
        print("%-10s %10.1f %10.1f" % (f"{index * 20 + 1}-{index * 20 + 20}", a, b))
    growth = [b[-1] / b[0] for b in blocks]
    print(
        f"growth (last block / first block): shebao {growth[0]:.2f}x, stock {growth[1]:.2f}x"
    )

    store_ratios = {}
    if stores:
        print(
            f"\n(c) store size: our single-user p50 with 0 and {args.store_conversations} other conversations"
        )
        for name, figures in stores.items():
            store_ratios[name] = figures["full"] / figures["empty"]
            print(
                f"  {name:<10} 0: {figures['empty']:.1f} ms   "
                f"{args.store_conversations}: {figures['full']:.1f} ms   "
                f"ratio {store_ratios[name]:.2f}x"
            )

    inquiry_p50, inquiry_p95 = percentiles(inquiry)
    inquiry_ratio = inquiry_p50 / p50[0]
    print(
        f"\n(d) verified inquiry turns (query, ID, code, follow-up; single user): "
        f"p50 {inquiry_p50:.1f} ms, p95 {inquiry_p95:.1f} ms "
        f"= {inquiry_ratio:.2f}x / {inquiry_p95 / p95[0]:.2f}x the guidance turns"
    )

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("\ntargets:")
    print(f"  throughput >= 1.2x stock: {tps_ratio:.2f}x {verdict(tps_ratio >= 1.2)}")
    print(
        f"  single-user p50 <= 1.0x stock: {p50_ratio:.2f}x {verdict(p50_ratio <= 1.0)}"
    )
    print(f"  growth <= 1.5: {growth[0]:.2f}x {verdict(growth[0] <= 1.5)}")
    print(
        f"  inquiry/guidance p50 <= 2: {inquiry_ratio:.2f}x {verdict(inquiry_ratio <= 2)}"
    )
    for name, ratio in store_ratios.items():
        print(
            f"  store size {args.store_conversations}/0 ({name}) <= 1.2: "
            f"{ratio:.2f}x {verdict(ratio <= 1.2)}"
        )


if __name__ == "__main__":
    sys.exit(main())
