"""The relational schema (SQLAlchemy 1.4 ORM).

Migrations in ``backend/migrations`` create exactly these tables; a test
compares the two so they cannot drift.  Datetimes are naive UTC (SQLite keeps
no time zone); dates and ``YYYY-MM`` periods are the bureau's local calendar.

Personal data stays in ``persons`` only: the verification table keys codes by
an HMAC of the ID number ("subject") and of the client address, and stores
codes and tokens as HMACs, never in plaintext.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

from backend.types import Money

RESIDENCY_TYPES = ("urban", "agricultural")
# 城镇居民基本医疗保险, 新型农村合作医疗 (新农合), 城乡居民基本养老保险
SCHEMES = (
    "urban_resident_medical",
    "rural_cooperative_medical",
    "urban_rural_resident_pension",
)
ENROLLMENT_STATUSES = ("active", "suspended", "terminated")
CHANNELS = ("wechat", "alipay", "bank", "counter", "tax_app")
CONTRIBUTION_STATUSES = ("paid", "pending", "refunded")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# Typed as Any: SQLAlchemy 1.4's declarative base is built at run time, which
# mypy cannot follow without the sqlalchemy2-stubs plugin.
Base: Any = declarative_base(metadata=metadata)


def _in(column: str, values: tuple) -> str:
    """SQL for ``column IN (...)`` with literal constants (never user input)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Person(Base):
    """An insured resident, identified by the 18-digit resident ID number."""

    __tablename__ = "persons"

    id = Column(Integer, primary_key=True)
    id_number = Column(String(18), nullable=False, unique=True)
    name = Column(String(64), nullable=False)
    residency_type = Column(String(16), nullable=False)
    region = Column(String(64), nullable=False)
    phone = Column(String(11), nullable=False)
    created_at = Column(DateTime, nullable=False)

    enrollment = relationship("Enrollment", uselist=False, back_populates="person")
    contributions = relationship("Contribution", back_populates="person")

    __table_args__ = (
        CheckConstraint(_in("residency_type", RESIDENCY_TYPES), name="residency_type"),
    )


class Enrollment(Base):
    """A person's enrolment in one scheme, with the monthly contribution owed."""

    __tablename__ = "enrollments"

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer,
        ForeignKey("persons.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    )
    scheme = Column(String(40), nullable=False)
    status = Column(String(16), nullable=False)
    since = Column(Date, nullable=False)
    monthly_amount = Column(Money, nullable=False)

    person = relationship("Person", back_populates="enrollment")

    __table_args__ = (
        CheckConstraint(_in("scheme", SCHEMES), name="scheme"),
        CheckConstraint(_in("status", ENROLLMENT_STATUSES), name="status"),
    )


class Contribution(Base):
    """One month's contribution; at most one record per person and period."""

    __tablename__ = "contributions"

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False
    )
    period = Column(String(7), nullable=False)  # YYYY-MM
    amount = Column(Money, nullable=False)
    paid_on = Column(Date, nullable=False)
    channel = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False)
    created_at = Column(DateTime, nullable=False)

    person = relationship("Person", back_populates="contributions")

    __table_args__ = (
        UniqueConstraint("person_id", "period"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", CONTRIBUTION_STATUSES), name="status"),
    )


class VerificationCode(Base):
    """A one-time code "sent" for a subject (known or not: unknown IDs get a
    row too, with no person and a code nobody received, so every later step
    behaves the same)."""

    __tablename__ = "verification_codes"

    id = Column(Integer, primary_key=True)
    subject = Column(String(64), nullable=False)  # HMAC of the ID number
    client = Column(String(64), nullable=False)  # HMAC of the client address
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=True
    )
    code_hash = Column(String(64), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    closed_at = Column(DateTime, nullable=True)  # used, or replaced by a newer code

    __table_args__ = (
        Index("ix_verification_codes_subject_created_at", "subject", "created_at"),
        Index("ix_verification_codes_client_created_at", "client", "created_at"),
    )


class AccessToken(Base):
    """A short-lived bearer token that reads one person's data (stored hashed)."""

    __tablename__ = "access_tokens"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False
    )
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)

    __table_args__ = (Index("ix_access_tokens_expires_at", "expires_at"),)
