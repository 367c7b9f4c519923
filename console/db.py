"""The console's database: an engine, transactions in a small thread pool.

Plain (sync) SQLAlchemy in worker threads, like the backend: pysqlite and
psycopg2 are in the pinned environment, the async drivers are not.  Each
``run`` is one transaction, so a handler that reads a transcript and appends
its audit entry does both or neither.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url

from common.sqlite import sqlite_pragmas
from console.models import metadata

T = TypeVar("T")


def make_engine(url: str, pool_size: int = 5, own: bool = True) -> Engine:
    """An engine for ``url``; for SQLite also the folder and, for the console's
    own database (``own``), WAL mode and foreign keys.  The tracker store belongs
    to Rasa: its journal mode is left as Rasa set it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            future=True,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 15},
        )
        if own:
            event.listen(engine, "connect", sqlite_pragmas)
        return engine
    return create_engine(
        url,
        future=True,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        executemany_mode="values_plus_batch",
    )


class Database:
    """The console database: ``run(work)`` runs ``work(connection)`` in one transaction."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=threads)
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="console-db"
        )

    def create_schema(self) -> None:
        """Create missing tables and indexes, and add columns newer than the database.

        There are no migrations for the console's own database yet; a nullable
        column added to a table (e.g. the feedback ``rating``) is added to an
        existing database here, so a console upgrade keeps its data.
        """
        metadata.create_all(self.engine)
        inspector = inspect(self.engine)
        with self.engine.begin() as connection:
            for table in metadata.sorted_tables:
                present = {
                    column["name"] for column in inspector.get_columns(table.name)
                }
                for column in table.columns:
                    if column.name not in present and column.nullable:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        connection.execute(
                            text(
                                f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'
                            )
                        )

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction on the worker threads, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self.run_sync, work)
        )

    def run_sync(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction on this thread (CLI and tests)."""
        with self.engine.begin() as connection:
            return work(connection)

    async def ping(self) -> None:
        """Raise if the database does not answer; used by the health route."""
        await self.run(lambda c: c.execute(text("SELECT 1")).scalar_one())

    def close(self) -> None:
        """Wait for queued work, then release the pooled connections."""
        self._executor.shutdown(wait=True)
        self.engine.dispose()
