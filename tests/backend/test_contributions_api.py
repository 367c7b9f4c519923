"""``GET /me/contributions``: paid months, totals, last payment and arrears."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from backend.arrears import compute_arrears, owed_months
from tests.support.backend import (
    Backend,
    BackendFactory,
    FakeClock,
    sqlite_only,
    unique_id_number,
)


def enrolled(
    backend: Backend, since: str = "2024-01-01", amount: str = "35.00", **kw: object
) -> str:
    id_number = unique_id_number()
    backend.create_person(
        id_number,
        enrollment={
            "scheme": "urban_resident_medical",
            "since": since,
            "monthly_amount": amount,
            **kw,
        },
    )
    return id_number


def test_partial_year(backend: Backend) -> None:
    # The clock says 2025-06-15 (Shanghai): January to June are due.
    id_number = enrolled(backend)
    backend.pay(id_number, "2025-01", paid_on="2025-01-10", channel="wechat")
    backend.pay(id_number, "2025-02", paid_on="2025-02-11", channel="alipay")
    backend.pay(id_number, "2025-03", status="pending", paid_on="2025-03-12")
    backend.pay(id_number, "2025-04", status="refunded", paid_on="2025-04-13")
    backend.pay(
        id_number, "2024-12", paid_on="2025-03-01"
    )  # late payment for last year
    summary = backend.summary(backend.login(id_number), 2025).json()

    assert summary["year"] == 2025
    assert [(c["period"], c["status"]) for c in summary["contributions"]] == [
        ("2025-01", "paid"),
        ("2025-02", "paid"),
        ("2025-03", "pending"),
        ("2025-04", "refunded"),
    ]
    assert summary["total_paid"] == "70.00"
    assert summary["arrears"] == {
        "months": ["2025-03", "2025-04", "2025-05", "2025-06"],
        "count": 4,
        "amount": "140.00",
    }
    # The latest payment by date, whatever its year.
    assert summary["last_payment"]["period"] == "2024-12"
    assert summary["last_payment"]["paid_on"] == "2025-03-01"


def test_past_year_counts_all_twelve_months(backend: Backend) -> None:
    id_number = enrolled(backend)
    for month in range(1, 11):
        backend.pay(id_number, f"2024-{month:02d}")
    summary = backend.summary(backend.login(id_number), 2024).json()
    assert summary["arrears"]["months"] == ["2024-11", "2024-12"]
    assert summary["arrears"]["amount"] == "70.00"
    assert summary["total_paid"] == "350.00"


def test_enrolment_mid_year(backend: Backend) -> None:
    id_number = enrolled(backend, since="2024-07-20")
    summary = backend.summary(backend.login(id_number), 2024).json()
    assert summary["arrears"]["months"] == [f"2024-{m:02d}" for m in range(7, 13)]


def test_years_before_enrolment_and_in_the_future_owe_nothing(backend: Backend) -> None:
    id_number = enrolled(backend, since="2024-03-01")
    token = backend.login(id_number)
    for year in (2023, 2026):
        summary = backend.summary(token, year).json()
        assert summary["arrears"] == {"months": [], "count": 0, "amount": "0.00"}
        assert summary["contributions"] == [] and summary["total_paid"] == "0.00"


def test_nothing_paid_ever(backend: Backend) -> None:
    id_number = enrolled(backend)
    summary = backend.summary(backend.login(id_number), 2025).json()
    assert summary["last_payment"] is None
    assert summary["arrears"]["count"] == 6


def test_suspended_enrolment_accrues_nothing(backend: Backend) -> None:
    id_number = enrolled(backend, status="suspended")
    summary = backend.summary(backend.login(id_number), 2025).json()
    assert summary["enrollment"]["status"] == "suspended"
    assert summary["arrears"]["count"] == 0


def test_default_year_is_the_current_local_year(make_backend: BackendFactory) -> None:
    # 2025-12-31 17:00 UTC is already 2026-01-01 in Shanghai.
    backend = make_backend(
        clock=FakeClock(datetime(2025, 12, 31, 17, 0, tzinfo=timezone.utc))
    )
    id_number = enrolled(backend)
    summary = backend.summary(backend.login(id_number)).json()
    assert summary["year"] == 2026
    assert summary["arrears"]["months"] == ["2026-01"]


@sqlite_only
@pytest.mark.parametrize("year", ["1989", "2101", "abc", "2025.0", "", "-2025"])
def test_invalid_year(backend: Backend, year: str) -> None:
    token = backend.login(enrolled(backend))
    response = backend.request(
        "GET", "/api/v1/me/contributions", token=token, params={"year": year}
    )
    assert response.status_code == 400
    assert (
        response.json()["error"] == "invalid_field"
        and response.json()["field"] == "year"
    )


# ---- the pure arrears rule ---------------------------------------------------------
TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    "since, year, paid, expected",
    [
        (
            date(2024, 1, 1),
            2025,
            [],
            ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"],
        ),
        (
            date(2024, 1, 1),
            2025,
            ["2025-01", "2025-03", "2025-06"],
            ["2025-02", "2025-04", "2025-05"],
        ),
        (date(2025, 6, 30), 2025, [], ["2025-06"]),
        (date(2025, 7, 1), 2025, [], []),
        (date(2024, 1, 1), 2024, [f"2024-{m:02d}" for m in range(1, 13)], []),
        (date(2024, 1, 1), 2026, [], []),
        (date(2024, 1, 1), 2023, [], []),
    ],
)
def test_owed_months(since: date, year: int, paid: list, expected: list) -> None:
    assert owed_months(since, "active", year, TODAY, paid) == expected


def test_arrears_amount_is_months_times_rate() -> None:
    arrears = compute_arrears(
        date(2025, 1, 1), "active", Decimal("33.33"), 2025, TODAY, []
    )
    assert arrears.count == 6 and arrears.amount == Decimal("199.98")


@pytest.mark.parametrize("status", ["suspended", "terminated"])
def test_inactive_enrolments_owe_nothing(status: str) -> None:
    assert owed_months(date(2024, 1, 1), status, 2025, TODAY, []) == []
