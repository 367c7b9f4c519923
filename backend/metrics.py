"""The backend's Prometheus metrics (rendered at ``GET /metrics``).

Labels are the route *pattern* (``/api/v1/persons/<id_number>``), never the
path, so no ID number becomes a label value.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from common.metrics import LATENCY_BUCKETS

REQUESTS = Counter(
    "shebao_backend_requests_total",
    "HTTP requests by route pattern, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "shebao_backend_request_seconds",
    "HTTP request latency by route pattern",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
VERIFICATION_STARTS = Counter(
    "shebao_backend_verification_starts_total",
    "POST /verification/start answers by outcome (issued, rate_limited, error)",
    ["outcome"],
)
VERIFICATION_FAILURES = Counter(
    "shebao_backend_verification_failures_total",
    "POST /verification/check answers that issued no token, by error code",
    ["error"],
)
SMS_DELIVERIES = Counter(
    "shebao_backend_sms_deliveries_total", "codes the SMS gateway accepted"
)
SMS_FAILURES = Counter(
    "shebao_backend_sms_failures_total",
    "codes the SMS gateway did not accept after the allowed retries, by reason "
    "(status, or the error type)",
    ["reason"],
)
