"""Fill a tracker store with other residents' conversations, and throwaway databases.

The benchmark's store-size figure (``bench/run_bench.py``) measures turn latency
with an empty ``events`` table and again after :func:`fill_other_conversations`
has written ``count`` other conversations straight into it (no Rasa involved):
copies of rows a real conversation stored, each under its own sender id, with
timestamps spread over the past months.  PostgreSQL gets its own database per
run (:func:`temporary_postgres`), created and dropped here.
"""

from __future__ import annotations

import contextlib
import io
import time
import uuid
from typing import Iterator, List, Tuple

import sqlalchemy as sa

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
MAX_CONVERSATIONS = 200_000  # a bound for the load, not a limit of the store

Row = Tuple[str, float, str, str, str]  # type_name, timestamp, intent, action, data


def template_rows(url: str, limit: int = 12) -> List[Row]:
    """The first ``limit`` stored rows of one conversation already in the store."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            sender = connection.execute(
                sa.text("SELECT sender_id FROM events ORDER BY id LIMIT 1")
            ).scalar()
            if sender is None:
                raise RuntimeError("the store holds no conversation to copy")
            rows = connection.execute(
                sa.text(
                    "SELECT type_name, timestamp, intent_name, action_name, data "
                    "FROM events WHERE sender_id = :s ORDER BY id LIMIT :n"
                ),
                {"s": sender, "n": limit},
            ).fetchall()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def fill_other_conversations(url: str, count: int, template: List[Row]) -> float:
    """Write ``count`` conversations (``template`` each) to ``url``; seconds taken."""
    count = max(0, min(count, MAX_CONVERSATIONS))
    started = time.monotonic()
    now = time.time()
    base = min(row[1] or now for row in template)
    engine = sa.create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            _copy_postgres(engine, count, template, now, base)
        else:
            _insert_sqlite(engine, count, template, now, base)
    finally:
        engine.dispose()
    return time.monotonic() - started


def _senders(count: int) -> Iterator[Tuple[str, float]]:
    for index in range(count):
        # spread over ~4 months, oldest first, like a table that grew over time
        yield f"wechat:bench-other-{uuid.uuid4().hex[:20]}", (count - index) * 100.0


def _insert_sqlite(
    engine: sa.engine.Engine, count: int, template: List[Row], now: float, base: float
) -> None:
    statement = (
        "INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
        "action_name, data) VALUES (?, ?, ?, ?, ?, ?)"
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        batch: List[tuple] = []
        for sender, age in _senders(count):
            for type_name, timestamp, intent, action, data in template:
                shifted = now - age + ((timestamp or base) - base)
                batch.append((sender, type_name, shifted, intent, action, data))
            if len(batch) >= 50_000:
                cursor.executemany(statement, batch)
                batch.clear()
        if batch:
            cursor.executemany(statement, batch)
        raw.commit()
    finally:
        raw.close()


def _copy_postgres(
    engine: sa.engine.Engine, count: int, template: List[Row], now: float, base: float
) -> None:
    def escape(value: object) -> str:
        if value is None:
            return "\\N"
        text = str(value)
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )

    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        buffer = io.StringIO()
        written = 0
        columns = (
            "sender_id",
            "type_name",
            "timestamp",
            "intent_name",
            "action_name",
            "data",
        )
        for sender, age in _senders(count):
            for type_name, timestamp, intent, action, data in template:
                shifted = now - age + ((timestamp or base) - base)
                fields = (sender, type_name, repr(shifted), intent, action, data)
                buffer.write("\t".join(escape(f) for f in fields) + "\n")
            written += 1
            if written % 10_000 == 0:
                buffer.seek(0)
                cursor.copy_from(buffer, "events", columns=columns)
                buffer = io.StringIO()
        buffer.seek(0)
        cursor.copy_from(buffer, "events", columns=columns)
        raw.commit()
        cursor.execute("ANALYZE events")
        raw.commit()
    finally:
        raw.close()


def analyze_sqlite(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()


@contextlib.contextmanager
def temporary_postgres() -> Iterator[str]:
    """A fresh ``shebao_bench_<random>`` database on the local server; dropped after."""
    name = f"shebao_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def postgres_available() -> bool:
    engine = sa.create_engine(f"{POSTGRES_SERVER}/postgres")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()
