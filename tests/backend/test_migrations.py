"""Migrations build exactly the models' schema, on SQLite and PostgreSQL, and
can be rolled back and re-applied."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from backend.db import make_engine
from backend.migrate import alembic_config, current_revision, head_revision, upgrade
from backend.models import Base

TABLES = {
    "persons",
    "enrollments",
    "contributions",
    "verification_codes",
    "access_tokens",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    return request.getfixturevalue("pg_database")


def _tables(url: str) -> set:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_creates_the_model_schema(empty_database: str) -> None:
    assert current_revision(empty_database) is None
    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision() == "0001"
    engine = make_engine(empty_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
    upgrade(empty_database)  # idempotent


def test_downgrade_and_upgrade_again(empty_database: str) -> None:
    upgrade(empty_database)
    assert _tables(empty_database) == TABLES
    engine = make_engine(empty_database)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
    finally:
        engine.dispose()
    assert _tables(empty_database) == set()
    upgrade(empty_database)
    assert _tables(empty_database) == TABLES
