"""Probes and Prometheus metrics of the backend; metrics carry no personal data."""

from __future__ import annotations

import re

from tests.support.backend import Backend, BackendFactory, unique_id_number, wrong_code

PHONE = "13912345678"


def test_liveness_and_readiness(backend: Backend) -> None:
    assert backend.request("GET", "/health/live").json() == {"status": "ok"}
    assert backend.request("GET", "/health/ready").json() == {"status": "ok"}


def test_readiness_fails_without_the_database_but_liveness_holds(
    make_backend: BackendFactory,
) -> None:
    backend = make_backend(database_url="postgresql://postgres@127.0.0.1:1/none")
    assert backend.request("GET", "/health/live").status_code == 200
    ready = backend.request("GET", "/health/ready")
    assert ready.status_code == 503 and ready.json()["error"] == "service_unavailable"


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests_and_verifications_without_personal_data(
    backend: Backend,
) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number, phone=PHONE)
    before = backend.request("GET", "/metrics").text
    assert backend.start(id_number).status_code == 200
    code = backend.outbox_codes(id_number)[-1]
    assert backend.check(id_number, wrong_code(code)).status_code == 401
    assert backend.check(id_number, code).status_code == 200
    backend.pay(id_number, "2025-01")
    response = backend.request("GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("shebao_backend_verification_starts_total", outcome="issued") == 1
    assert grew("shebao_backend_verification_failures_total", error="wrong_code") == 1
    assert (
        grew(
            "shebao_backend_requests_total",
            route="/api/v1/verification/start",
            status="200",
        )
        == 1
    )
    assert (
        grew("shebao_backend_request_seconds_count", route="/api/v1/verification/check")
        == 2
    )
    # the route pattern is the label, never the ID number of the path
    assert "/api/v1/persons/<id_number" in after
    for secret in (id_number, id_number[-4:] + '"', PHONE, code):
        assert secret not in after
    labels = " ".join(re.findall(r"\{[^}]*\}", after))
    assert not re.search(r"\d{6,}", labels)  # no ID number, phone or code in a label
