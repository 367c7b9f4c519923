"""Throughput per topology with Locust: turns/s, p50/p95, CPU of every process.

Each topology is started on its own (never two at once, so they do not share
the machine's cores), warmed up with one conversation, then driven by the
Locust residents (``bench/locustfile.py``, no think time: saturated) for
``--seconds``; the CPU each of its processes used in that window is read
from ``/proc`` (process and descendants, user + system time).

Topologies today: ``stock`` (a stock ``rasa init`` bot, trained and started
as ``bench/run_bench.py`` does) and ``single`` (our stack: backend, action
server, one Rasa server).  The scaled topology plugs in through
:func:`measure`, which needs only a base URL and the PIDs to watch; register a
starter in ``TOPOLOGIES`` (e.g. ``replicas-1``, ``replicas-2`` from
``tools/scaled.py``), or measure something already running::

    python -m bench.replicas                                  # stock, single
    python -m bench.replicas --topologies single --users 32 --seconds 60
    python -m bench.replicas --url http://127.0.0.1:8000 --pid nginx=1234 --pid rasa-1=1240

Output folders (transcripts, Locust CSV and log) go under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Dict, Iterator, List, Mapping, Optional

import requests

from bench.load import Throughput, run_locust
from bench.load_conversations import RESIDENT_CONVERSATIONS
from bench.run_bench import _children, start_ours, stock_bot
from tests.support.ids import sender_id

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Target:
    """A running topology: where residents talk to it, which processes serve it."""

    name: str
    base_url: str
    pids: Mapping[str, int]  # label -> PID (its descendants are counted with it)


@dataclass
class Measurement:
    """One topology's figures."""

    name: str
    load: Throughput
    cpu_percent: Dict[str, float]  # label -> % of one core over the run
    machine_percent: float  # all cores busy, % of the machine
    out_dir: Path
    notes: List[str] = field(default_factory=list)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (0 if gone)."""
    total = 0
    for proc in [pid] + _children(pid):
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from ``/proc/stat``."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (Locust, once it exits)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def warm_up(base_url: str) -> None:
    """One conversation before measuring: the first turn loads what is lazy."""
    sender = sender_id("warm")
    for text in RESIDENT_CONVERSATIONS[0]:
        requests.post(
            f"{base_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=120,
        ).raise_for_status()


def measure(
    name: str,
    base_url: str,
    pids: Mapping[str, int],
    out_dir: Path,
    users: int = 32,
    seconds: int = 30,
    think_time: float = 0.0,
) -> Measurement:
    """Drive ``base_url`` with Locust for ``seconds``; the CPU of each of ``pids``."""
    before = {label: cpu_seconds(pid) for label, pid in pids.items()}
    busy0, total0 = machine_ticks()
    locust0 = _children_cpu()
    started = time.monotonic()
    run = run_locust(
        base_url,
        out_dir / name,
        users=users,
        spawn_rate=float(users),
        seconds=seconds,
        think_time=think_time,
    )
    wall = max(time.monotonic() - started, 1e-6)
    busy1, total1 = machine_ticks()
    cpu = {
        label: (cpu_seconds(pid) - before[label]) / wall * 100
        for label, pid in pids.items()
    }
    # the load generator shares the machine: show what it took too
    cpu["locust"] = (_children_cpu() - locust0) / wall * 100
    machine = (busy1 - busy0) / max(total1 - total0, 1) * 100
    measurement = Measurement(name, run.summary(), cpu, machine, out_dir / name)
    if run.returncode != 0:
        measurement.notes.append(f"Locust exited {run.returncode}; see {run.log}")
    return measurement


@contextlib.contextmanager
def stock_target(workdir: Path) -> Iterator[Target]:
    """A stock ``rasa init`` bot (trained in ``workdir``), as run_bench starts it."""
    folder = workdir / "stock"
    folder.mkdir(parents=True, exist_ok=True)
    stack = stock_bot(folder).start()
    try:
        pids = {s.name: s.process.pid for s in stack.services if s.process}
        yield Target("stock", stack.rasa_url, pids)
    finally:
        stack.stop()


@contextlib.contextmanager
def single_target(workdir: Path) -> Iterator[Target]:
    """Our stack: backend, action server, one Rasa server (SQLite tracker store)."""
    stack = start_ours(workdir / "single")
    try:
        pids = {s.name: s.process.pid for s in stack.services if s.process}
        yield Target("single", stack.rasa_url, pids)
    finally:
        stack.stop()


# name -> starter; the scaled topology adds its own (a base URL and its PIDs).
TOPOLOGIES: Dict[str, Callable[[Path], ContextManager[Target]]] = {
    "stock": stock_target,
    "single": single_target,
}


def report(measurements: List[Measurement], users: int) -> None:
    """A table per topology, CPU as % of one core (200 = both cores of two)."""
    print(f"\n{users} residents, no think time; CPU in % of one core over the run")
    print(
        "%-14s %9s %8s %8s %7s %7s %9s"
        % ("topology", "turns/s", "p50 ms", "p95 ms", "turns", "failed", "machine")
    )
    for m in measurements:
        print(
            "%-14s %9.1f %8.0f %8.0f %7d %7d %8.0f%%"
            % (
                m.name,
                m.load.turns_per_second,
                m.load.p50_ms,
                m.load.p95_ms,
                m.load.turns,
                m.load.failed,
                m.machine_percent,
            )
        )
        cpu = ", ".join(f"{label} {pct:.0f}%" for label, pct in m.cpu_percent.items())
        print(f"  CPU: {cpu}")
        for note in m.notes:
            print(f"  !! {note}")
    if len(measurements) > 1:
        base = measurements[0]
        for m in measurements[1:]:
            if base.load.turns_per_second > 0:
                ratio = m.load.turns_per_second / base.load.turns_per_second
                print(f"throughput {m.name}/{base.name}: {ratio:.2f}x")


def _pid_option(value: str) -> tuple[str, int]:
    label, sep, pid = value.partition("=")
    if not sep or not pid.isdigit():
        raise argparse.ArgumentTypeError("--pid takes LABEL=PID")
    return label, int(pid)


def main(argv: Optional[List[str]] = None) -> int:
    """Measure the chosen topologies one after the other, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--topologies",
        default="stock,single",
        help=f"comma-separated, from {', '.join(TOPOLOGIES)}",
    )
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--think-time", type=float, default=0.0)
    parser.add_argument(
        "--url", default="", help="measure this running base URL instead"
    )
    parser.add_argument(
        "--pid",
        type=_pid_option,
        action="append",
        default=[],
        help="LABEL=PID (with --url)",
    )
    parser.add_argument("--out", type=Path, default=Path("var") / "bench-replicas")
    args = parser.parse_args(argv)
    users = max(1, min(args.users, 500))
    seconds = max(5, min(args.seconds, 1800))
    measurements = []
    if args.url:
        measurements.append(
            measure(
                "given",
                args.url.rstrip("/"),
                dict(args.pid),
                args.out,
                users,
                seconds,
                args.think_time,
            )
        )
    else:
        names = [n.strip() for n in args.topologies.split(",") if n.strip()]
        unknown = [n for n in names if n not in TOPOLOGIES]
        if unknown:
            parser.error(f"unknown topologies: {', '.join(unknown)}")
        with tempfile.TemporaryDirectory(prefix="shebao-replicas-") as tmp:
            for name in names:
                print(f">> {name}: starting", flush=True)
                with TOPOLOGIES[name](Path(tmp)) as target:
                    warm_up(target.base_url)
                    print(f">> {name}: {users} residents for {seconds} s", flush=True)
                    measurements.append(
                        measure(
                            target.name,
                            target.base_url,
                            target.pids,
                            args.out,
                            users,
                            seconds,
                            args.think_time,
                        )
                    )
    report(measurements, users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
