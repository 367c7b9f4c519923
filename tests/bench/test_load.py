"""The load driver's figures come from the residents' transcripts, and it names what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import locust_executable, throughput


def test_throughput_counts_answered_turns_over_the_run() -> None:
    records = [
        {
            "turns": [
                {"text": "你好", "replies": [], "at": 100.0, "seconds": 0.1},
                {"text": "谢谢", "replies": [], "at": 101.0, "seconds": 0.3},
            ]
        },
        {
            "turns": [
                {"text": "hi", "replies": [], "at": 100.5, "seconds": 0.2},
                {"text": "bye", "status": 502, "at": 103.0, "seconds": 1.0},
            ]
        },
    ]
    figures = throughput(records)
    assert (figures.turns, figures.failed) == (3, 1)
    assert figures.seconds == pytest.approx(4.0)  # 100.0 .. 103.0 + 1.0
    assert figures.turns_per_second == pytest.approx(0.75)
    assert figures.p50_ms == pytest.approx(200.0)
    assert "3 turns (1 failed)" in figures.line()


def test_a_run_without_answers_has_no_rate() -> None:
    figures = throughput([{"turns": [{"text": "x", "status": 0, "at": 1.0}]}])
    assert (figures.turns, figures.failed, figures.turns_per_second) == (0, 1, 0.0)


def test_a_missing_locust_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEBAO_VAR_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make locust-venv"):
        locust_executable()
