"""Profile the assistant's turns in-process with pyinstrument.

Starts the backend and the action server (as ``make run`` does), loads the
trained model in this process with ``endpoints.yml`` (the redacting SQL tracker
store, on a fresh SQLite file unless ``SHEBAO_TRACKER_URL`` is set) and sends
one sender ``--turns`` guidance turns; the last ``--profile`` of them run under
pyinstrument, whose report is printed (``--html FILE`` writes the HTML view).
Prints the median turn time of every 20-turn block too, so the profile of a
long conversation can be compared with a short one.

``--short`` sends the turns as the throughput load does instead: the guidance
conversations one after another, each from a new sender.  The machine is
shared, so wall time is noisy; the CPU milliseconds per profiled turn of this
process (the Rasa server's work) and of the action server are printed too,
and ``--profiler cprofile`` (deterministic, by cumulative time) or ``none`` (the
CPU figures without a profiler's overhead) replace pyinstrument.

``--passes N`` runs the turns N times (new senders each time, the last pass
profiled) and prints the CPU per turn of each pass: the least of them is the
steadiest figure on a busy machine.

Usage: ``python -m bench.profile_turn [--turns 160] [--profile 20] [--short]
[--profiler pyinstrument|cprofile|none] [--passes 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple

from bench.conversations import SHEBAO_GUIDANCE
from tools.devstack import build_stack, free_port
from tools.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


def guidance_texts(count: int) -> List[str]:
    """``count`` guidance turns: the benchmark's conversations, one after another."""
    flat = [text for conversation in SHEBAO_GUIDANCE for text in conversation]
    return list(itertools.islice(itertools.cycle(flat), count))


def short_turns(count: int, prefix: str) -> List[Tuple[str, str]]:
    """``count`` (sender, text) turns: each guidance conversation from a new sender."""
    result: List[Tuple[str, str]] = []
    for number, conversation in enumerate(itertools.cycle(SHEBAO_GUIDANCE)):
        for text in conversation:
            if len(result) == count:
                return result
            result.append((f"{prefix}-{number}", text))
    return result  # pragma: no cover - cycle() never ends


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # fields[11:15] are utime, stime, cutime, cstime (proc(5), from field 14)
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


async def drive(args: argparse.Namespace, env: dict, actions_pid: int) -> None:
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.log_utils import configure_structlog

    os.environ.update(env)
    # the Rasa server logs at INFO (logging.yml); so does this process
    configure_structlog(logging.INFO)
    logging.getLogger().setLevel(logging.INFO)
    endpoints = AvailableEndpoints.read_endpoints(str(REPO_ROOT / "endpoints.yml"))
    agent = await load_agent(
        model_path=str(REPO_ROOT / "var" / "models"), endpoints=endpoints
    )
    profiler = Profiling(args.profiler)
    pass_cpu: List[float] = []
    for number in range(args.passes):
        prefix = f"rest:profile-{os.getpid()}-{number}"
        if args.short:
            turns = short_turns(args.turns, prefix)
        else:
            turns = [(prefix, text) for text in guidance_texts(args.turns)]
        last = number == args.passes - 1
        durations: List[float] = []
        cpu: List[float] = []
        for index, (sender, text) in enumerate(turns):
            if last and index == len(turns) - args.profile:
                profiler.start(actions_pid)
            start, start_cpu = time.perf_counter(), time.process_time()
            await agent.handle_message(
                UserMessage(
                    text, CollectingOutputChannel(), sender, input_channel="rest"
                )
            )
            durations.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        pass_cpu.append(sum(cpu[-args.profile :]) / args.profile)
    profiler.stop(actions_pid)
    for block in range(0, len(durations), 20):
        chunk = durations[block : block + 20]
        print(
            f"turns {block + 1:3d}-{block + len(chunk):3d}: "
            f"median {statistics.median(chunk) * 1000:7.1f} ms"
        )
    profiler.report(args)
    print(
        f"CPU per profiled turn ({args.profile} turns): this process (Rasa) "
        f"{profiler.cpu * 1000 / args.profile:.1f} ms, action server "
        f"{profiler.actions_cpu * 1000 / args.profile:.1f} ms; wall "
        f"{profiler.wall * 1000 / args.profile:.1f} ms"
    )
    if args.passes > 1:
        print(
            "Rasa CPU ms per profiled turn, by pass: "
            + ", ".join(f"{value * 1000:.1f}" for value in pass_cpu)
            + f"; least {min(pass_cpu) * 1000:.1f}"
        )


class Profiling:
    """The chosen profiler around the profiled turns, with CPU and wall clocks."""

    def __init__(self, kind: str) -> None:
        """``kind``: pyinstrument, cprofile or none."""
        self.kind = kind
        self.profiler: Any = None
        self.cpu = self.actions_cpu = self.wall = 0.0

    def start(self, actions_pid: int) -> None:
        """Start the clocks, then the profiler."""
        if self.kind == "pyinstrument":
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=0.0005, async_mode="enabled")
        elif self.kind == "cprofile":
            self.profiler = cProfile.Profile()
        self.actions_cpu = -process_cpu_seconds(actions_pid)
        self.cpu, self.wall = -time.process_time(), -time.perf_counter()
        if self.profiler is not None:
            self.profiler.enable() if self.kind == "cprofile" else self.profiler.start()

    def stop(self, actions_pid: int) -> None:
        """Stop the profiler, then the clocks."""
        if self.profiler is not None:
            self.profiler.disable() if self.kind == "cprofile" else self.profiler.stop()
        self.cpu += time.process_time()
        self.wall += time.perf_counter()
        self.actions_cpu += process_cpu_seconds(actions_pid)

    def report(self, args: argparse.Namespace) -> None:
        """Print the profiler's report (and write pyinstrument's HTML view)."""
        if self.kind == "pyinstrument":
            print(
                self.profiler.output_text(unicode=True, color=False, show_all=args.all)
            )
            if args.html:
                Path(args.html).write_text(
                    self.profiler.output_html(), encoding="utf-8"
                )
                print(f"HTML profile written to {args.html}")
        elif self.kind == "cprofile":
            stats = pstats.Stats(self.profiler)
            stats.sort_stats(args.sort).print_stats(args.lines)
            if args.html:  # for pstats / snakeviz
                stats.dump_stats(args.html)
                print(f"cProfile statistics written to {args.html}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=160, help="turns sent (<= 2000)")
    parser.add_argument("--profile", type=int, default=20, help="last turns profiled")
    parser.add_argument(
        "--all", action="store_true", help="show library frames in the report"
    )
    parser.add_argument(
        "--html",
        help="also write pyinstrument's HTML report (cProfile: statistics) here",
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="a new sender per conversation (the throughput load), not one sender",
    )
    parser.add_argument(
        "--profiler",
        choices=("pyinstrument", "cprofile", "none"),
        default="pyinstrument",
    )
    parser.add_argument(
        "--passes",
        type=int,
        default=1,
        help="run the turns this often (new senders each time); the last is profiled",
    )
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key")
    parser.add_argument("--lines", type=int, default=60, help="cProfile rows shown")
    args = parser.parse_args(argv)
    args.turns = max(1, min(args.turns, 2000))
    args.profile = max(1, min(args.profile, args.turns))
    args.passes = max(1, min(args.passes, 50))
    with tempfile.TemporaryDirectory(prefix="shebao-profile-") as tmp:
        settings = StackSettings(
            Path(tmp),
            "127.0.0.1",
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            REPO_ROOT / "var" / "models",
        )
        stack = build_stack(
            settings, extra_env={"SHEBAO_ENV": "development"}, with_web=False
        )
        stack.services = [s for s in stack.services if s.name != "rasa"]
        stack.start()
        try:
            actions = stack.service("actions").process
            assert actions is not None
            asyncio.run(drive(args, stack.env, actions.pid))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
