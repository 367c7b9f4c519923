"""Throughput per topology with Locust: turns/s, p50/p95, CPU of every process.

Each topology is started on its own (never two at once, so they do not share
the machine's cores), warmed up with one conversation, then driven by the
Locust residents (``bench/locustfile.py``, no think time: saturated) for
``--seconds``; the CPU each of its processes used in that window is read
from ``/proc`` (process and descendants, user + system time).

Topologies: ``stock`` (a stock ``rasa init`` bot, trained and started as
``bench/run_bench.py`` does), ``single`` (our stack: backend, action server,
one Rasa server, SQLite) and ``replicas-1`` / ``replicas-2`` (``tools/scaled.py``:
nginx in front of 1 or 2 Rasa servers, 2 action servers, 2 backend processes,
PostgreSQL, Redis, RabbitMQ, on throw-away databases, a Redis prefix and a
queue of their own).  For the scaled ones the shared services are watched
too: the PostgreSQL server processes serving the topology's databases
(``pg_stat_activity``), and the Redis and RabbitMQ servers (whole servers:
on a shared machine their figures include other users).

After the table comes the 2-replica / 1-replica throughput ratio and a model
of a cluster (:func:`cluster_model`): each Rasa replica on a core of its own,
how many turns/s 4 and 16 replicas would hold, how many cores that asks of
the action servers, PostgreSQL, Redis and nginx, and at how many replicas
each shared service saturates.  Measure something already running with
``--url`` and ``--pid``::

    python -m bench.replicas          # stock, single, replicas-1, replicas-2
    python -m bench.replicas --topologies single --users 32 --seconds 60
    python -m bench.replicas --url http://127.0.0.1:8000 --pid nginx=1234 --pid rasa-1=1240

Output folders (transcripts, Locust CSV and log) go under ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Callable,
    ContextManager,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

import requests

from bench.load import Throughput, run_locust
from bench.load_conversations import RESIDENT_CONVERSATIONS
from bench.run_bench import _children, start_ours, stock_bot
from tests.support.ids import sender_id
from tools.settings import LOCAL_BROKER_URL, LOCAL_POSTGRES_URL, LOCAL_REDIS_URL

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Cores the cluster model gives each shared service: Redis runs commands on
# one thread, nginx here has one worker, PostgreSQL a modest 4-core server.
SERVICE_CORES = {"postgres": 4.0, "redis": 1.0, "nginx": 1.0}
CLUSTER_SIZES = (4, 16)

PidGroup = Callable[[], List[int]]  # the processes of one label, listed now


@dataclass(frozen=True)
class Target:
    """A running topology: where residents talk to it, which processes serve it.

    ``groups`` are processes that come and go (PostgreSQL's per-connection
    server processes): listed at the start and the end of the run.
    """

    name: str
    base_url: str
    pids: Mapping[str, int]  # label -> PID (its descendants are counted with it)
    groups: Mapping[str, PidGroup] = field(default_factory=dict)


@dataclass
class Measurement:
    """One topology's figures."""

    name: str
    load: Throughput
    cpu_percent: Dict[str, float]  # label -> % of one core over the run
    machine_percent: float  # all cores busy, % of the machine
    out_dir: Path
    notes: List[str] = field(default_factory=list)
    wall_seconds: float = 0.0

    def cpu_ms_per_turn(self, prefix: str) -> float:
        """CPU milliseconds per answered turn of the labels starting with ``prefix``."""
        percent = sum(v for k, v in self.cpu_percent.items() if k.startswith(prefix))
        turns = self.load.turns
        return percent / 100 * self.wall_seconds * 1000 / turns if turns else 0.0


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


def group_cpu_seconds(pids: Sequence[int]) -> Dict[int, float]:
    """CPU seconds of each of ``pids`` (and its descendants) now."""
    return {pid: cpu_seconds(pid) for pid in pids}


def listening_pid(port: int) -> Optional[int]:
    """The process listening on loopback/any TCP ``port`` (as root: anyone's)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])  # state 0A: LISTEN
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def postgres_backends(postgres_url: str, db_prefix: str) -> PidGroup:
    """The PostgreSQL server processes connected to the databases ``db_prefix_*``."""

    def pids() -> List[int]:
        import psycopg2

        connection = psycopg2.connect(f"{postgres_url.rstrip('/')}/postgres")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s",
                    (db_prefix + "\\_%",),
                )
                return [int(pid) for (pid,) in cursor.fetchall()]
        finally:
            connection.close()

    return pids


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
    groups: Optional[Mapping[str, PidGroup]] = None,
) -> Measurement:
    """Drive ``base_url`` with Locust for ``seconds``; the CPU of each of ``pids``
    and of each of ``groups`` (all its processes, those that came during the run
    from zero)."""
    groups = groups or {}
    before = {label: cpu_seconds(pid) for label, pid in pids.items()}
    group_before = {
        label: group_cpu_seconds(list_()) for label, list_ in groups.items()
    }
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
    for label, list_ in groups.items():
        now = group_cpu_seconds(list_())
        used = sum(v - group_before[label].get(pid, 0.0) for pid, v in now.items())
        cpu[label] = max(used, 0.0) / wall * 100
    # the load generator shares the machine: show what it took too
    cpu["locust"] = (_children_cpu() - locust0) / wall * 100
    machine = (busy1 - busy0) / max(total1 - total0, 1) * 100
    measurement = Measurement(
        name, run.summary(), cpu, machine, out_dir / name, wall_seconds=wall
    )
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


def _redis_pid() -> Optional[int]:
    import redis

    client = redis.Redis.from_url(LOCAL_REDIS_URL)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


@contextlib.contextmanager
def scaled_target(replicas: int, workdir: Path) -> Iterator[Target]:
    """``tools/scaled.py`` with ``replicas`` Rasa servers and 2 action servers, on
    throw-away databases, Redis prefix and queue (removed afterwards)."""
    from tests.support.scaled import remove_scaled_stack, start_scaled_stack

    stack = start_scaled_stack(
        replicas=replicas,
        actions=2,
        extra_env={
            # sized for a load test, as bench/run_bench.py's stack
            "BACKEND_STARTS_PER_ID": "1000",
            "BACKEND_STARTS_PER_CLIENT": "1000",
            "SHEBAO_RATE_LIMIT": "10000/minute",
            "SHEBAO_RATE_LIMIT_CLIENT": "10000/minute",
        },
    )
    try:
        pids = {s.name: s.process.pid for s in stack.services if s.process}
        for label, pid in (
            ("redis", _redis_pid()),
            ("rabbitmq", listening_pid(_port(LOCAL_BROKER_URL))),
        ):
            if pid:
                pids[label] = pid
        groups = {
            "postgres": postgres_backends(LOCAL_POSTGRES_URL, stack.scaled.db_prefix)
        }
        yield Target(f"replicas-{replicas}", stack.public_url, pids, groups)
    finally:
        remove_scaled_stack(stack)


def _port(url: str) -> int:
    from urllib.parse import urlsplit

    return urlsplit(url).port or 5672


# name -> starter: a base URL and the PIDs to watch.
TOPOLOGIES: Dict[str, Callable[[Path], ContextManager[Target]]] = {
    "stock": stock_target,
    "single": single_target,
    "replicas-1": functools.partial(scaled_target, 1),
    "replicas-2": functools.partial(scaled_target, 2),
}


@dataclass(frozen=True)
class ClusterModel:
    """What N replicas on a cluster would hold, from one measured topology."""

    turns_per_rasa_core: float  # turns/s one Rasa replica holds on a full core
    cpu_ms_per_turn: Dict[str, float]  # component -> CPU ms per turn
    rows: List[Tuple[int, float, Dict[str, float]]]  # N, turns/s, component cores
    # shared service -> (its cores in the model, replicas at which they are full)
    saturation: Dict[str, Tuple[float, float]]


def cluster_model(
    measurement: Measurement,
    sizes: Sequence[int] = CLUSTER_SIZES,
    service_cores: Mapping[str, float] = SERVICE_CORES,
) -> Optional[ClusterModel]:
    """Linear model: each Rasa replica on a core of its own, everything else
    asked for its measured CPU per turn.

    A Rasa server is one process with one event loop, so one core is what a
    replica can use; its turns per CPU-second on this machine is what a
    replica would hold on a core of its own.  None without Rasa CPU figures.
    """
    per_turn = {
        component: measurement.cpu_ms_per_turn(component)
        for component in ("rasa", "actions", "backend", "postgres", "redis", "nginx")
    }
    if per_turn["rasa"] <= 0:
        return None
    per_core = 1000.0 / per_turn["rasa"]
    rows = []
    for size in sizes:
        turns = size * per_core
        rows.append((size, turns, {c: turns * ms / 1000 for c, ms in per_turn.items()}))
    saturation = {
        service: (cores, cores / (per_core * per_turn[service] / 1000))
        for service, cores in service_cores.items()
        if per_turn.get(service, 0) > 0
    }
    return ClusterModel(per_core, per_turn, rows, saturation)


def print_cluster_model(model: ClusterModel, name: str) -> None:
    """The model as a few lines under the table."""
    ms = ", ".join(f"{c} {v:.1f}" for c, v in model.cpu_ms_per_turn.items())
    print(f"\ncluster model from {name} (CPU ms per turn: {ms})")
    print(
        f"one Rasa replica on a core of its own: {model.turns_per_rasa_core:.1f} turns/s"
    )
    for size, turns, cores in model.rows:
        need = ", ".join(f"{c} {v:.1f}" for c, v in cores.items() if c != "rasa")
        print(f"  {size:>2} replicas: {turns:6.0f} turns/s; cores needed: {need}")
    for service, (given, replicas) in sorted(
        model.saturation.items(), key=lambda kv: kv[1][1]
    ):
        print(
            f"  {service} ({given:g} core{'s' if given != 1 else ''}) saturates at "
            f"about {replicas:.0f} replicas"
        )


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
    by_name = {m.name: m for m in measurements}
    one, two = by_name.get("replicas-1"), by_name.get("replicas-2")
    if one and two and one.load.turns_per_second > 0:
        ratio = two.load.turns_per_second / one.load.turns_per_second
        print(
            f"throughput replicas-2/replicas-1: {ratio:.2f}x "
            f"(machine {one.machine_percent:.0f}% -> {two.machine_percent:.0f}% busy)"
        )
    scaled = two or one
    if scaled is not None:
        model = cluster_model(scaled)
        if model is not None:
            print_cluster_model(model, scaled.name)


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
        default="stock,single,replicas-1,replicas-2",
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
    load_average = " ".join(Path("/proc/loadavg").read_text().split()[:3])
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
                            target.groups,
                        )
                    )
    print(f"load average before the run: {load_average}")
    report(measurements, users)
    return 0


if __name__ == "__main__":
    sys.exit(main())
