"""Residents under load, then the "nothing lost" check: shared by the load tests.

The single stack (``tests/e2e/test_load_consistency.py``) and the scaled
topology (``tests/scaled/test_load.py``) make the same promise, checked the
same way against their PostgreSQL tracker store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import run_locust
from bench.load_check import Report, check_run, print_report


def assert_load_loses_nothing(
    base_url: str,
    tracker_url: str,
    out_dir: Path,
    capsys: pytest.CaptureFixture,
    users: int,
    seconds: int,
    min_turns: int,
    label: str,
) -> Report:
    """Run ``users`` residents for ``seconds``; every turn is stored exactly.

    Returns the checker's report, for what a caller asserts beyond that.
    """
    run = run_locust(
        base_url, out_dir, users=users, spawn_rate=10, seconds=seconds, think_time=1.0
    )
    report = check_run(run.transcripts, tracker_url)
    with capsys.disabled():
        print(f"\n{label}: {run.summary().line()}")
        print_report(report)
    assert report.mismatches == []
    assert report.failed_turns == 0, run.log.read_text(encoding="utf-8")[-3000:]
    assert report.conversations >= users
    assert report.turns_checked >= min_turns
    assert report.user_events == report.turns_checked + report.unconfirmed_stored
    return report
