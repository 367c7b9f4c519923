"""Persons, enrolments and contributions: the database side of the API.

Synchronous functions of a ``Session`` (they run in ``Database.run``'s worker
threads) that return plain JSON-ready dicts, so no ORM object crosses back to
the event loop.  Expected failures raise ``ApiError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, Optional

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.arrears import compute_arrears
from backend.errors import ApiError
from backend.models import Contribution, Enrollment, Person
from backend.types import CENT
from common.identity import mask_id_number, mask_phone
from common.money import wire_amount


@dataclass(frozen=True)
class NewPerson:
    """A validated person to insert, kept apart from the ORM row until it is checked."""

    id_number: str
    name: str
    residency_type: str
    region: str
    phone: str
    scheme: str
    enrollment_status: str
    since: date
    monthly_amount: Decimal

    @classmethod
    def from_json(cls, body: Dict[str, Any]) -> "NewPerson":
        """From a body already validated against ``schemas.PERSON_IN``."""
        enrollment = body["enrollment"]
        return cls(
            id_number=body["id_number"],
            name=body["name"],
            residency_type=body["residency_type"],
            region=body["region"],
            phone=body["phone"],
            scheme=enrollment["scheme"],
            enrollment_status=enrollment.get("status", "active"),
            since=date.fromisoformat(enrollment["since"]),
            monthly_amount=Decimal(enrollment["monthly_amount"]).quantize(CENT),
        )


@dataclass(frozen=True)
class NewContribution:
    """A validated contribution to insert, kept apart from the ORM row until it is
    checked."""

    period: str
    amount: Decimal
    paid_on: date
    channel: str
    status: str

    @classmethod
    def from_json(cls, body: Dict[str, Any]) -> "NewContribution":
        """From a body already validated against ``schemas.CONTRIBUTION_IN``."""
        return cls(
            period=body["period"],
            amount=Decimal(body["amount"]).quantize(CENT),
            paid_on=date.fromisoformat(body["paid_on"]),
            channel=body["channel"],
            status=body.get("status", "paid"),
        )


def money(value: Decimal) -> str:
    """An amount as the API writes it (``"35.00"``)."""
    return wire_amount(value)


def enrollment_json(enrollment: Enrollment) -> Dict[str, Any]:
    """The API form of an enrolment."""
    return {
        "scheme": enrollment.scheme,
        "status": enrollment.status,
        "since": enrollment.since.isoformat(),
        "monthly_amount": money(enrollment.monthly_amount),
    }


def contribution_json(contribution: Contribution) -> Dict[str, Any]:
    """The API form of one contribution."""
    return {
        "period": contribution.period,
        "amount": money(contribution.amount),
        "paid_on": contribution.paid_on.isoformat(),
        "channel": contribution.channel,
        "status": contribution.status,
    }


def person_json(person: Person) -> Dict[str, Any]:
    """The API form of a person, with the ID number and phone masked."""
    return {
        "masked_id_number": mask_id_number(person.id_number),
        "name": person.name,
        "residency_type": person.residency_type,
        "region": person.region,
        "masked_phone": mask_phone(person.phone),
        "enrollment": enrollment_json(person.enrollment),
    }


def find_person(session: Session, id_number: str) -> Optional[Person]:
    """The person with this ID number, or ``None``; the single lookup by ID."""
    return session.execute(
        select(Person).where(Person.id_number == id_number)
    ).scalar_one_or_none()


def person_row(new: NewPerson, now: datetime) -> Person:
    """A new ``Person`` with its enrolment (not yet added to a session)."""
    person = Person(
        id_number=new.id_number,
        name=new.name,
        residency_type=new.residency_type,
        region=new.region,
        phone=new.phone,
        created_at=now,
    )
    person.enrollment = Enrollment(
        scheme=new.scheme,
        status=new.enrollment_status,
        since=new.since,
        monthly_amount=new.monthly_amount,
    )
    return person


def create_person(session: Session, new: NewPerson, now: datetime) -> Dict[str, Any]:
    """Insert a person with their enrolment; 409 ``person_exists`` if known."""
    if find_person(session, new.id_number) is not None:
        raise ApiError(409, "person_exists", "A person with this ID number exists.")
    person = person_row(new, now)
    session.add(person)
    try:
        session.flush()
    except IntegrityError:  # a concurrent insert of the same ID number
        raise ApiError(
            409, "person_exists", "A person with this ID number exists."
        ) from None
    return person_json(person)


def add_contribution(
    session: Session, id_number: str, new: NewContribution, now: datetime
) -> Dict[str, Any]:
    """Record one month's contribution; 404 for unknown people, 409 for a
    period already recorded."""
    person = find_person(session, id_number)
    if person is None:
        raise ApiError(404, "person_not_found", "No insured person has this ID number.")
    duplicate = session.execute(
        select(Contribution.id).where(
            Contribution.person_id == person.id, Contribution.period == new.period
        )
    ).first()
    if duplicate is not None:
        raise ApiError(409, "contribution_exists", "This period is already recorded.")
    contribution = Contribution(
        person_id=person.id,
        period=new.period,
        amount=new.amount,
        paid_on=new.paid_on,
        channel=new.channel,
        status=new.status,
        created_at=now,
    )
    session.add(contribution)
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(
            409, "contribution_exists", "This period is already recorded."
        ) from None
    return contribution_json(contribution)


def contribution_summary(
    session: Session, person_id: int, year: int, today: date
) -> Dict[str, Any]:
    """What ``GET /me/contributions`` returns for one person and year."""
    person = session.get(Person, person_id)
    if person is None or person.enrollment is None:
        raise ApiError(401, "invalid_token", "The token's person no longer exists.")
    rows = (
        session.execute(
            select(Contribution)
            .where(Contribution.person_id == person_id)
            .order_by(Contribution.period)
        )
        .scalars()
        .all()
    )
    in_year = [row for row in rows if row.period.startswith(f"{year:04d}-")]
    paid_in_year = [row for row in in_year if row.status == "paid"]
    paid_all = [row for row in rows if row.status == "paid"]
    last_payment = max(
        paid_all, key=lambda row: (row.paid_on, row.period), default=None
    )
    enrollment = person.enrollment
    arrears = compute_arrears(
        enrollment.since,
        enrollment.status,
        enrollment.monthly_amount,
        year,
        today,
        (row.period for row in paid_in_year),
    )
    return {
        "person": {
            "masked_id_number": mask_id_number(person.id_number),
            "name": person.name,
            "residency_type": person.residency_type,
            "region": person.region,
        },
        "enrollment": enrollment_json(enrollment),
        "year": year,
        "contributions": [contribution_json(row) for row in in_year],
        "total_paid": money(sum((row.amount for row in paid_in_year), Decimal(0))),
        "arrears": {
            "months": list(arrears.months),
            "count": arrears.count,
            "amount": money(arrears.amount),
        },
        "last_payment": contribution_json(last_payment) if last_payment else None,
    }
