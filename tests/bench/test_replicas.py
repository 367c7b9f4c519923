"""The replica benchmark's figures: CPU per turn, the cluster model, whose port is whose."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bench.load import Throughput
from bench.replicas import TOPOLOGIES, Measurement, cluster_model, listening_pid


def measured(cpu_percent: dict, turns: int = 300, wall: float = 30.0) -> Measurement:
    load = Throughput(turns, 0, wall, turns / wall, 100.0, 200.0)
    return Measurement("replicas-2", load, cpu_percent, 95.0, Path("."), [], wall)


def test_cpu_per_turn_sums_the_processes_of_a_kind() -> None:
    # 10 turns/s for 30 s; two Rasa replicas at 60 % and 40 % of a core
    m = measured({"rasa-1": 60.0, "rasa-2": 40.0, "redis": 2.0})
    assert m.cpu_ms_per_turn("rasa") == pytest.approx(100.0)  # 1 core / 10 turns/s
    assert m.cpu_ms_per_turn("redis") == pytest.approx(2.0)
    assert m.cpu_ms_per_turn("absent") == 0.0


def test_the_cluster_model_scales_rasa_and_finds_where_shared_services_fill() -> None:
    m = measured(
        {
            "rasa-1": 60.0,
            "rasa-2": 40.0,  # 100 ms of Rasa per turn: 10 turns/s per core
            "actions-1": 10.0,
            "actions-2": 10.0,  # 20 ms
            "postgres": 30.0,  # 30 ms
            "redis": 5.0,  # 5 ms
            "nginx": 10.0,  # 10 ms
        }
    )
    model = cluster_model(m, sizes=(4, 16), service_cores={"postgres": 4, "redis": 1})
    assert model is not None
    assert model.turns_per_rasa_core == pytest.approx(10.0)
    (four, turns4, cores4), (sixteen, turns16, cores16) = model.rows
    assert (four, sixteen) == (4, 16)
    assert (turns4, turns16) == (pytest.approx(40.0), pytest.approx(160.0))
    assert cores16["postgres"] == pytest.approx(4.8)  # 160 turns/s x 30 ms
    assert cores16["actions"] == pytest.approx(3.2)
    # PostgreSQL's 4 cores hold 133 turns/s: 13.3 replicas; Redis's one 200
    assert model.saturation["postgres"] == (4, pytest.approx(4 / 0.3))
    assert model.saturation["redis"] == (1, pytest.approx(20.0))


def test_no_model_without_rasa_figures() -> None:
    assert cluster_model(measured({"nginx": 10.0})) is None


def test_the_listening_process_of_a_port_is_found() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert listening_pid(listener.getsockname()[1]) == os.getpid()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert listening_pid(port) is None


def test_one_run_covers_stock_single_and_both_scaled_topologies() -> None:
    assert {"stock", "single", "replicas-1", "replicas-2"} <= set(TOPOLOGIES)
