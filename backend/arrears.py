"""Arrears: which months of a year are owed, as pure functions of the data.

Arrears are derived, never stored, so a recorded payment is reflected at once.
A month is owed when it is

* on or after the month the enrolment started,
* in the asked year and not after the current (local) month,
* without a contribution whose status is ``paid`` (pending and refunded ones
  do not count),

and the enrolment is ``active`` (suspended or terminated enrolments accrue
nothing; their status is reported so the assistant can say why).
The amount is the number of owed months times the enrolment's monthly amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Iterable, List, Tuple


def period_of(year: int, month: int) -> str:
    """The ``YYYY-MM`` key used for periods everywhere, zero-padded so it sorts."""
    return f"{year:04d}-{month:02d}"


def parse_period(period: str) -> Tuple[int, int]:
    """Split a ``YYYY-MM`` period back into numbers for date arithmetic."""
    year, month = period.split("-")
    return int(year), int(month)


@dataclass(frozen=True)
class Arrears:
    """The months owed in a year and what they cost, as one value for the API."""

    months: Tuple[str, ...]
    amount: Decimal

    @property
    def count(self) -> int:
        """How many months are owed, for answers that count rather than list them."""
        return len(self.months)


def owed_months(
    since: date, status: str, year: int, today: date, paid_periods: Iterable[str]
) -> List[str]:
    """The ``YYYY-MM`` periods of ``year`` owed on ``today`` (see module doc)."""
    if status != "active" or year > today.year or year < since.year:
        return []
    first_month = since.month if year == since.year else 1
    last_month = today.month if year == today.year else 12
    paid = set(paid_periods)
    return [
        period_of(year, month)
        for month in range(first_month, last_month + 1)
        if period_of(year, month) not in paid
    ]


def compute_arrears(
    since: date,
    status: str,
    monthly_amount: Decimal,
    year: int,
    today: date,
    paid_periods: Iterable[str],
) -> Arrears:
    """The owed months of ``year`` priced at the enrolment's monthly amount."""
    months = owed_months(since, status, year, today, paid_periods)
    return Arrears(
        tuple(months), (monthly_amount * len(months)).quantize(Decimal("0.01"))
    )
