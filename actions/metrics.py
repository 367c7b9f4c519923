"""The action server's Prometheus metrics (rendered at ``GET /metrics``).

Labels are action names (only names shaped like ours: ``action_*``,
``validate_*``), status codes and outcome words; never sender ids, slot values
or anything the resident typed.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Optional

from prometheus_client import Counter, Histogram

from common.metrics import LATENCY_BUCKETS

ACTION_RUNS = Counter(
    "shebao_actions_runs_total",
    "action server calls by action name and HTTP status",
    ["action", "status"],
)
ACTION_LATENCY = Histogram(
    "shebao_actions_run_seconds",
    "time to run one action, by action name",
    ["action"],
    buckets=LATENCY_BUCKETS,
)
BACKEND_ERRORS = Counter(
    "shebao_actions_backend_errors_total",
    "calls to the contribution backend that failed (unreachable, 5xx, bad answer)",
    ["kind"],
)
VERIFICATION_OUTCOMES = Counter(
    "shebao_actions_verification_outcomes_total",
    "what became of an ID number or a code the resident gave, by step and outcome",
    ["step", "outcome"],
)

_ACTION_NAME = re.compile(r"^(action|validate|utter)_[a-z0-9_]{1,60}$")


def action_label(body: bytes, content_encoding: Optional[str]) -> str:
    """The ``next_action`` of a webhook body, or ``other`` (bounded labels)."""
    try:
        raw = zlib.decompress(body) if content_encoding == "deflate" else body
        name = json.loads(raw).get("next_action")
    except (ValueError, AttributeError, zlib.error):
        return "other"
    return name if isinstance(name, str) and _ACTION_NAME.match(name) else "other"
