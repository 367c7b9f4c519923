"""Backend fixtures: every API test runs against SQLite and PostgreSQL.

SQLite gets a fresh migrated file per test.  PostgreSQL (127.0.0.1:5432, trust
auth) gets one uniquely named database per session, migrated once, emptied
between tests and dropped at the end; when no server answers, the PostgreSQL
variants are skipped with the reason.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, List, Optional

import psycopg2
import pytest
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT
from sanic import Sanic

from backend.app import create_app
from backend.migrate import upgrade
from backend.settings import BackendSettings
from tests.support.backend import (
    ADMIN_TOKEN,
    CLIENT_SECRET,
    PRODUCTION_CLIENT_SECRET,
    SECRET,
    Backend,
    BackendFactory,
    FakeClock,
    LiveServer,
)

# Sanic 21.12 refuses a second app with the same name outside test mode.
Sanic.test_mode = True

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_USERS = ("postgres", "root")
TABLES = "persons, enrollments, contributions, verification_codes, access_tokens"


class PostgresServer:
    """Creates and drops throw-away databases on the local server."""

    def __init__(self, user: str) -> None:
        self.user = user

    def _admin(self) -> Any:
        connection = psycopg2.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=self.user,
            dbname="postgres",
            connect_timeout=3,
        )
        connection.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
        return connection

    def create_database(self) -> str:
        name = f"shebao_test_{uuid.uuid4().hex[:12]}"
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                # The name is generated here, never taken from input.
                cursor.execute(f'CREATE DATABASE "{name}"')
                # A throw-away database need not wait for the disk on each commit.
                cursor.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        finally:
            connection.close()
        return name

    def drop_database(self, name: str) -> None:
        connection = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            connection.close()

    def url(self, name: str) -> str:
        return f"postgresql://{self.user}@{PG_HOST}:{PG_PORT}/{name}"


def _find_postgres() -> tuple[Optional[PostgresServer], str]:
    errors: List[str] = []
    for user in PG_USERS:
        try:
            connection = psycopg2.connect(
                host=PG_HOST,
                port=PG_PORT,
                user=user,
                dbname="postgres",
                connect_timeout=3,
            )
        except psycopg2.OperationalError as exc:
            errors.append(f"{user}: {str(exc).strip().splitlines()[0]}")
            continue
        connection.close()
        return PostgresServer(user), ""
    return None, "; ".join(errors)


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    server, reason = _find_postgres()
    if server is None:
        pytest.skip(f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT} ({reason})")
    return server


@pytest.fixture
def pg_database(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty (unmigrated) PostgreSQL database for one test."""
    name = postgres.create_database()
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture(scope="session")
def pg_session_url(postgres: PostgresServer) -> Iterator[str]:
    """One migrated PostgreSQL database shared by the session's API tests."""
    name = postgres.create_database()
    url = postgres.url(name)
    try:
        upgrade(url)
        yield url
    finally:
        postgres.drop_database(name)


def _empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, future=True)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each)."""
    path = tmp_path_factory.mktemp("template") / "backend.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "backend.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_session_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def make_backend(database_url: str) -> Iterator[BackendFactory]:
    """Start backends on the test's database; ``settings`` fields as overrides
    (plus ``clock`` and ``sender``, e.g. a slow ``DevOutbox(delay=...)``)."""
    servers: List[LiveServer] = []

    def _make(**overrides: Any) -> Backend:
        clock = overrides.pop("clock", None) or FakeClock()
        sender = overrides.pop("sender", None)
        production = overrides.get("mode") == "production"
        settings = BackendSettings(
            database_url=database_url,
            admin_token=ADMIN_TOKEN,
            secret=SECRET,
            client_secret=PRODUCTION_CLIENT_SECRET if production else CLIENT_SECRET,
            mode="development",
            environment="development",
            clock=clock,
        )
        settings = replace(settings, **overrides)
        app = create_app(settings, sender=sender)
        server = LiveServer(app).start()
        servers.append(server)
        return Backend(url=server.url, settings=settings, clock=clock, app=app)

    yield _make
    for server in servers:
        server.stop()


@pytest.fixture
def backend(make_backend: BackendFactory) -> Backend:
    """A development-mode backend with a fake clock."""
    return make_backend()
