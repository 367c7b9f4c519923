"""Initial schema: persons, enrolments, contributions, verification codes, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from backend.types import Money

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("residency_type", sa.String(16), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(11), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
        sa.UniqueConstraint("id_number", name="uq_persons_id_number"),
        sa.CheckConstraint(
            "residency_type IN ('urban', 'agricultural')",
            name="ck_persons_residency_type",
        ),
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("monthly_amount", Money(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_enrollments"),
        sa.UniqueConstraint("person_id", name="uq_enrollments_person_id"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name="fk_enrollments_person_id_persons",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "scheme IN ('urban_resident_medical', "
            "'rural_cooperative_medical', 'urban_rural_resident_pension')",
            name="ck_enrollments_scheme",
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'terminated')",
            name="ck_enrollments_status",
        ),
    )
    op.create_table(
        "contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_contributions"),
        sa.UniqueConstraint(
            "person_id", "period", name="uq_contributions_person_id_period"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name="fk_contributions_person_id_persons",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "channel IN ('wechat', 'alipay', 'bank', 'counter', 'tax_app')",
            name="ck_contributions_channel",
        ),
        sa.CheckConstraint(
            "status IN ('paid', 'pending', 'refunded')",
            name="ck_contributions_status",
        ),
    )
    op.create_table(
        "verification_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_verification_codes"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name="fk_verification_codes_person_id_persons",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_verification_codes_subject_created_at",
        "verification_codes",
        ["subject", "created_at"],
    )
    op.create_index(
        "ix_verification_codes_client_created_at",
        "verification_codes",
        ["client", "created_at"],
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name="fk_access_tokens_person_id_persons",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_access_tokens_expires_at", "access_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("access_tokens")
    op.drop_table("verification_codes")
    op.drop_table("contributions")
    op.drop_table("enrollments")
    op.drop_table("persons")
