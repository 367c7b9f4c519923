"""Benchmark of the review console's queries at 100 000 conversations.

``python -m bench.console_bench [--conversations 100000] [--backend sqlite|postgresql|both]``

For each database it fills a tracker store (the ``events`` table Rasa creates)
with synthetic conversations (``console.demo``), runs the summarizer over it as
the console does (timed: events/s), then times what the pages run, in process
(the queries plus building the transcript; no HTTP): the list with no filter,
with each filter, on a deep keyset page, the text search (a common word and
one that matches nothing, i.e. a full scan), a transcript (tracker read +
annotations + its audit entry) and the dashboard over 14 and 90 days.  Prints
p50/p95 in ms and checks them against the targets (list p95 <= 300 ms,
dashboard p95 <= 1 s).  PostgreSQL: 127.0.0.1:5432 with trust auth; a
throw-away database is created and dropped.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from sqlalchemy import create_engine, select, text

from console import repository as repo
from console.db import Database
from console.demo import create_events_table, fill_tracker
from console.events import SQLTrackerEventSource
from console.models import conversations
from console.summarize import Summarizer
from console.transcript import build_turns

DAY = 86400.0
LIST_TARGET_MS = 300.0
DASHBOARD_TARGET_MS = 1000.0


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timed(work: Callable[[], object], rounds: int) -> Tuple[float, float]:
    work()  # warm the caches once
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def postgres_database() -> Tuple[str, Callable[[], None]]:
    import psycopg2
    from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

    for user in ("postgres", "root"):
        try:
            admin = psycopg2.connect(
                host="127.0.0.1",
                port=5432,
                user=user,
                dbname="postgres",
                connect_timeout=3,
            )
        except psycopg2.OperationalError:
            continue
        admin.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
        name = f"console_bench_{uuid.uuid4().hex[:10]}"
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
            cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')

        def drop(admin=admin, name=name) -> None:  # type: ignore[no-untyped-def]
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

        return f"postgresql://{user}@127.0.0.1:5432/{name}", drop
    raise RuntimeError("no PostgreSQL with trust auth on 127.0.0.1:5432")


def run(backend: str, count: int, rounds: int) -> Dict[str, Tuple[float, float]]:
    drop: Optional[Callable[[], None]] = None
    folder = Path(tempfile.mkdtemp(prefix="console-bench-"))
    if backend == "postgresql":
        url, drop = postgres_database()
        tracker_url = console_url = url
    else:
        tracker_url = f"sqlite:///{folder / 'tracker.sqlite3'}"
        console_url = f"sqlite:///{folder / 'console.sqlite3'}"
    results: Dict[str, Tuple[float, float]] = {}
    try:
        now = time.time()
        filler = create_engine(
            tracker_url,
            future=True,
            **(
                {"executemany_mode": "values_plus_batch"}
                if backend == "postgresql"
                else {}
            ),
        )
        create_events_table(filler)
        started = time.perf_counter()
        events = fill_tracker(filler, count, now - 90 * DAY, 90 * DAY)
        filler.dispose()
        print(
            f"[{backend}] {count} conversations, {events} events written in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )

        db = Database(console_url, threads=1)
        db.create_schema()
        source = SQLTrackerEventSource(tracker_url)
        started = time.perf_counter()
        consumed = Summarizer(db, source, batch_size=5000).run_until_drained()
        elapsed = time.perf_counter() - started
        print(
            f"[{backend}] summarizer: {consumed} events in {elapsed:.0f} s "
            f"({consumed / elapsed:.0f} events/s)",
            flush=True,
        )
        if backend == "postgresql":
            db.run_sync(lambda c: c.execute(text("ANALYZE")))
        else:
            db.run_sync(lambda c: c.execute(text("ANALYZE")))

        senders = db.run_sync(
            lambda c: [
                r.sender_id for r in c.execute(select(conversations.c.sender_id))
            ]
        )
        ids = db.run_sync(lambda c: repo.conversation_ids(c, senders[:50]))
        for number, conversation_id in enumerate(ids.values()):
            db.run_sync(
                lambda c, i=conversation_id, n=number: repo.set_tags(
                    c, i, ["bench-tag"] if n % 2 else ["other"]
                )
            )
        today = repo.today_local()
        two_weeks = today.fromordinal(today.toordinal() - 13).isoformat()
        quarter = today.fromordinal(today.toordinal() - 89).isoformat()

        def page(**query: str) -> Callable[[], object]:
            filters = repo.ListFilters.from_query(query)
            return lambda: db.run_sync(lambda c: repo.list_conversations(c, filters))

        # a cursor 100 pages deep
        cursor = ""
        for _ in range(100):
            filters = repo.ListFilters.from_query({"cursor": cursor})
            _, cursor = db.run_sync(lambda c, f=filters: repo.list_conversations(c, f))
        cases: Dict[str, Callable[[], object]] = {
            "list, no filter": page(),
            "list, page 101 (keyset)": page(cursor=cursor or ""),
            "list, channel=wechat": page(channel="wechat"),
            "list, language=zh": page(language="zh"),
            "list, fallback=yes": page(fallback="yes"),
            "list, handoff=yes": page(handoff="yes"),
            "list, verified=yes": page(verified="yes"),
            "list, review=reviewed (rare)": page(review="reviewed"),
            "list, tag=bench-tag (25 rows)": page(tag="bench-tag"),
            "list, last 14 days": page(**{"from": two_weeks}),
            "list, sort=turns": page(sort="turns"),
            "list, 4 filters": page(
                channel="web", language="en", fallback="yes", handoff="no"
            ),
            "search '材料' (common)": page(q="材料"),
            "search, no match (full scan)": page(q="no such words"),
        }
        rng = random.Random(5)

        def transcript() -> object:
            sender = rng.choice(senders)
            evs = source.events_for(sender)
            turns = build_turns(evs)

            def work(c):  # type: ignore[no-untyped-def]
                row = repo.get_conversation(c, sender)
                repo.conversation_annotations(c, row.id)
                repo.add_audit(c, "bench", "view_transcript", sender)

            db.run_sync(work)
            return turns

        cases["transcript"] = transcript
        cases["dashboard, 14 days"] = lambda: db.run_sync(
            lambda c: repo.dashboard(c, two_weeks, today.isoformat())
        )
        cases["dashboard, 90 days"] = lambda: db.run_sync(
            lambda c: repo.dashboard(c, quarter, today.isoformat())
        )
        for name, work in cases.items():
            results[name] = timed(work, rounds)
            p50, p95 = results[name]
            print(
                f"[{backend}] {name:<32} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms",
                flush=True,
            )
        source.close()
        db.close()
    finally:
        if drop is not None:
            drop()
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both"
    )
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    failed = []
    for backend in backends:
        results = run(backend, args.conversations, args.rounds)
        for name, (_, p95) in results.items():
            target = (
                DASHBOARD_TARGET_MS
                if name.startswith("dashboard")
                else (LIST_TARGET_MS if name.startswith(("list", "search")) else None)
            )
            if target is not None and p95 > target:
                failed.append(f"{backend}: {name} p95 {p95:.0f} ms > {target:.0f} ms")
    for line in failed:
        print("MISSED TARGET:", line)
    print("all targets met" if not failed else f"{len(failed)} targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
