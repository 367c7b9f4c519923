"""A deterministic demo dataset for ``make run``, tests and trying the bot.

Four residents enrolled since 2024 with full, partial and missing payment
histories for 2024 and 2025.  ID numbers are generated with valid check
characters; the names, phones and numbers are invented.  Seeding is
idempotent: existing people and periods are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import List, Sequence, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import Database
from backend.models import Contribution
from backend.records import NewPerson, find_person, person_row
from common.identity import make_id_number

SEEDED_AT = datetime(2024, 1, 1)


@dataclass(frozen=True)
class DemoPayment:
    """One seeded payment of the demo dataset."""

    period: str
    channel: str
    status: str = "paid"


@dataclass(frozen=True)
class DemoPerson:
    """One seeded person of the demo dataset, with enough variety to exercise every
    answer."""

    id_number: str
    name: str
    residency_type: str
    region: str
    phone: str
    scheme: str
    since: date
    monthly_amount: Decimal
    payments: Tuple[DemoPayment, ...]


def _months(
    year: int, first: int, last: int, channel: str, status: str = "paid"
) -> List[DemoPayment]:
    return [
        DemoPayment(f"{year}-{m:02d}", channel, status) for m in range(first, last + 1)
    ]


# The one to try first: urban, 2024 fully paid, 2025 paid January to June only.
DEMO_ID_NUMBER = make_id_number("330102", "19900307", "123")

DEMO_PEOPLE: Tuple[DemoPerson, ...] = (
    DemoPerson(
        id_number=DEMO_ID_NUMBER,
        name="王小明",
        residency_type="urban",
        region="上城区",
        phone="13812341234",
        scheme="urban_resident_medical",
        since=date(2024, 1, 1),
        monthly_amount=Decimal("35.00"),
        payments=tuple(_months(2024, 1, 12, "wechat") + _months(2025, 1, 6, "wechat")),
    ),
    DemoPerson(  # agricultural, 2024 partly paid (September pending), nothing in 2025
        id_number=make_id_number("330122", "19850612", "246"),
        name="李娜",
        residency_type="agricultural",
        region="桐庐县",
        phone="13900001111",
        scheme="rural_cooperative_medical",
        since=date(2024, 1, 1),
        monthly_amount=Decimal("30.00"),
        payments=tuple(
            _months(2024, 1, 8, "alipay")
            + [DemoPayment("2024-09", "alipay", "pending")]
        ),
    ),
    DemoPerson(  # urban, everything paid for 2024 and 2025
        id_number=make_id_number("330106", "19781120", "315"),
        name="张伟",
        residency_type="urban",
        region="西湖区",
        phone="13600002222",
        scheme="urban_resident_medical",
        since=date(2024, 1, 1),
        monthly_amount=Decimal("35.00"),
        payments=tuple(_months(2024, 1, 12, "bank") + _months(2025, 1, 12, "bank")),
    ),
    DemoPerson(  # agricultural, enrolled mid-2024, April 2025 refunded
        id_number=make_id_number("330122", "20010405", "428"),
        name="赵芳",
        residency_type="agricultural",
        region="桐庐县",
        phone="15800003333",
        scheme="rural_cooperative_medical",
        since=date(2024, 7, 1),
        monthly_amount=Decimal("30.00"),
        payments=tuple(
            _months(2024, 7, 12, "counter")
            + _months(2025, 1, 3, "counter")
            + [DemoPayment("2025-04", "counter", "refunded")]
        ),
    ),
)


def _paid_on(period: str) -> date:
    """Demo payments are made on the 15th of their month."""
    year, month = period.split("-")
    return date(int(year), int(month), 15)


def _seed_person(session: Session, demo: DemoPerson) -> int:
    """Insert ``demo`` and any of its missing periods; the rows added."""
    added = 0
    person = find_person(session, demo.id_number)
    if person is None:
        person = person_row(
            NewPerson(
                id_number=demo.id_number,
                name=demo.name,
                residency_type=demo.residency_type,
                region=demo.region,
                phone=demo.phone,
                scheme=demo.scheme,
                enrollment_status="active",
                since=demo.since,
                monthly_amount=demo.monthly_amount,
            ),
            SEEDED_AT,
        )
        session.add(person)
        session.flush()
        added += 1
    known = set(
        session.execute(
            select(Contribution.period).where(Contribution.person_id == person.id)
        ).scalars()
    )
    for payment in demo.payments:
        if payment.period in known:
            continue
        session.add(
            Contribution(
                person_id=person.id,
                period=payment.period,
                amount=demo.monthly_amount,
                paid_on=_paid_on(payment.period),
                channel=payment.channel,
                status=payment.status,
                created_at=SEEDED_AT,
            )
        )
        added += 1
    return added


def seed(database_url: str, people: Sequence[DemoPerson] = DEMO_PEOPLE) -> int:
    """Insert the demo dataset (the database must be migrated); rows added."""
    db = Database(database_url, threads=1)
    try:
        return db.run_sync(
            lambda session: sum(_seed_person(session, p) for p in people)
        )
    finally:
        db.close()
