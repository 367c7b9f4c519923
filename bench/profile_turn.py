"""Profile the assistant's turns in-process with pyinstrument.

Starts the backend and the action server (as ``make run`` does), loads the
trained model in this process with ``endpoints.yml`` (the redacting SQL tracker
store, on a fresh SQLite file unless ``SHEBAO_TRACKER_URL`` is set) and sends
one sender ``--turns`` guidance turns; the last ``--profile`` of them run under
pyinstrument, whose report is printed (``--html FILE`` writes the HTML view).
Prints the median turn time of every 20-turn block too, so the profile of a
long conversation can be compared with a short one.

Usage: ``python -m bench.profile_turn [--turns 160] [--profile 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

from bench.conversations import SHEBAO_GUIDANCE
from tools.devstack import build_stack, free_port
from tools.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


def guidance_texts(count: int) -> List[str]:
    """``count`` guidance turns: the benchmark's conversations, one after another."""
    flat = [text for conversation in SHEBAO_GUIDANCE for text in conversation]
    return list(itertools.islice(itertools.cycle(flat), count))


async def drive(args: argparse.Namespace, env: dict) -> None:
    from pyinstrument import Profiler
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
    sender = f"rest:profile-{os.getpid()}"
    texts = guidance_texts(args.turns)
    durations: List[float] = []
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    for index, text in enumerate(texts):
        profiled = index >= len(texts) - args.profile
        if profiled and not profiler.is_running:
            profiler.start()
        start = time.perf_counter()
        await agent.handle_message(
            UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest")
        )
        durations.append(time.perf_counter() - start)
    if profiler.is_running:
        profiler.stop()
    for block in range(0, len(durations), 20):
        chunk = durations[block : block + 20]
        print(
            f"turns {block + 1:3d}-{block + len(chunk):3d}: "
            f"median {statistics.median(chunk) * 1000:7.1f} ms"
        )
    print(profiler.output_text(unicode=True, color=False, show_all=args.all))
    if args.html:
        Path(args.html).write_text(profiler.output_html(), encoding="utf-8")
        print(f"HTML profile written to {args.html}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=160, help="turns sent (<= 2000)")
    parser.add_argument("--profile", type=int, default=20, help="last turns profiled")
    parser.add_argument(
        "--all", action="store_true", help="show library frames in the report"
    )
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    args = parser.parse_args(argv)
    args.turns = max(1, min(args.turns, 2000))
    args.profile = max(1, min(args.profile, args.turns))
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
            asyncio.run(drive(args, stack.env))
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
