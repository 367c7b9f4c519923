"""Run the Locust residents (``bench/locustfile.py``) headless against a base URL.

Locust lives in its own virtual environment (``make locust-venv`` creates
``<SHEBAO_VAR_DIR>/locust-venv`` from ``bench/locust-constraints.txt``) and is
driven here as a subprocess, so the load test (``tests/e2e``), the replica
benchmark (``bench/replicas.py``) and a developer at a shell start it the
same way.  The base URL is all it knows of the topology: one Rasa server
today, nginx in front of several later.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

from common.env import env_str

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = REPO_ROOT / "bench" / "locustfile.py"


def locust_executable() -> Path:
    """``locust`` of the environment ``make locust-venv`` builds; an error if missing."""
    var_dir = Path(env_str("SHEBAO_VAR_DIR", "var"))
    if not var_dir.is_absolute():
        var_dir = REPO_ROOT / var_dir
    locust = var_dir / "locust-venv" / "bin" / "locust"
    if not locust.exists():
        raise FileNotFoundError(f"{locust} is missing: run `make locust-venv` first")
    return locust


@dataclass(frozen=True)
class LoadRun:
    """What one Locust run left behind."""

    transcripts: Path  # one JSON line per conversation (bench/locustfile.py)
    csv_prefix: Path  # Locust's <prefix>_stats.csv, _stats_history.csv, ...
    log: Path
    returncode: int  # Locust's: 1 when any request failed

    def summary(self) -> "Throughput":
        """Turns, failures, turns/s and latency of the run, from its transcripts.

        From the transcripts rather than Locust's CSV: Locust writes its final
        CSV when the time is up, before the users finish their last turn.
        """
        from bench.load_check import read_transcripts

        return throughput(read_transcripts(self.transcripts))


@dataclass(frozen=True)
class Throughput:
    """What the residents of one run measured."""

    turns: int  # answered turns
    failed: int  # turns without a valid answer
    seconds: float  # from the first turn sent to the last answer
    turns_per_second: float
    p50_ms: float
    p95_ms: float

    def line(self) -> str:
        """One line for a report."""
        return (
            f"{self.turns} turns ({self.failed} failed) in {self.seconds:.0f} s: "
            f"{self.turns_per_second:.1f} turns/s, p50 {self.p50_ms:.0f} ms, "
            f"p95 {self.p95_ms:.0f} ms"
        )


def throughput(records: Sequence[Mapping[str, Any]]) -> Throughput:
    """Answered turns per second over the run and their p50/p95 latency."""
    from bench.run_bench import percentiles

    turns = [t for r in records for t in r.get("turns") or []]
    answered = [t for t in turns if "replies" in t]
    if not answered:
        return Throughput(0, len(turns), 0.0, 0.0, 0.0, 0.0)
    began = min(float(t["at"]) for t in turns)
    ended = max(float(t["at"]) + float(t["seconds"]) for t in turns)
    seconds = max(ended - began, 1e-6)
    p50, p95 = percentiles([float(t["seconds"]) for t in answered])
    return Throughput(
        len(answered),
        len(turns) - len(answered),
        seconds,
        len(answered) / seconds,
        p50,
        p95,
    )


def run_locust(
    base_url: str,
    out_dir: Path,
    users: int = 50,
    spawn_rate: float = 10.0,
    seconds: int = 30,
    think_time: float = 1.0,
    run_tag: str = "",
    api_key: str = "",
    stop_timeout: int = 30,
) -> LoadRun:
    """Run Locust headless for ``seconds`` against ``base_url``; wait for it to end.

    Users finish the turn they are in when the time is up (``stop_timeout``),
    so every turn a resident sent is in the transcripts with its replies.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    run = LoadRun(
        transcripts=out_dir / "transcripts.jsonl",
        csv_prefix=out_dir / "locust",
        log=out_dir / "locust.log",
        returncode=-1,
    )
    run.transcripts.unlink(missing_ok=True)
    command = [
        str(locust_executable()),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        base_url,
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        str(stop_timeout),
        "--csv",
        str(run.csv_prefix),
        "--only-summary",
        "--transcripts",
        str(run.transcripts),
        "--think-time",
        str(think_time),
    ]
    if run_tag:
        command += ["--run-tag", run_tag]
    env = {
        **os.environ,
        # the locustfile imports bench.load_conversations and tests.support.ids
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
        "LOCUST_REST_API_KEY": api_key,  # not on the command line (ps shows that)
    }
    with open(run.log, "wb") as log:
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=seconds + stop_timeout + 120,
            check=False,
        )
    return LoadRun(run.transcripts, run.csv_prefix, run.log, completed.returncode)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m bench.load URL [--users N --seconds S --out DIR]``, then the check."""
    import argparse

    from bench.load_check import check_run, print_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:5005")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--think-time", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("var") / "load")
    parser.add_argument(
        "--tracker-url",
        default="",
        help="check the run against this tracker store afterwards (SQLAlchemy URL)",
    )
    args = parser.parse_args(argv)
    run = run_locust(
        args.base_url,
        args.out,
        users=max(1, min(args.users, 1000)),
        spawn_rate=args.spawn_rate,
        seconds=max(1, min(args.seconds, 3600)),
        think_time=args.think_time,
    )
    print(f"{run.summary().line()} (Locust log: {run.log})")
    if not args.tracker_url:
        return 0 if run.returncode == 0 else 1
    report = check_run(run.transcripts, args.tracker_url)
    print_report(report)
    return 0 if report.ok and run.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
