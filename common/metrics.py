"""Prometheus exposition shared by every deployable (``GET /metrics``).

Each service defines its own counters and histograms (``backend/metrics.py``,
``actions/metrics.py``, ``bot/metrics.py``) in the process-wide default
registry of the maintained client library ``prometheus_client``; this module
only renders that registry.  Metric labels are route patterns, action names,
intents and outcome words — never user text, sender ids, ID numbers, phones or
codes (``tests/test_metrics_privacy.py`` checks the rendered text).
"""

from __future__ import annotations

from typing import Tuple

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

# Buckets for request / action / turn latency in seconds (5 ms .. 10 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def exposition() -> Tuple[bytes, str]:
    """The default registry in Prometheus text format and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
