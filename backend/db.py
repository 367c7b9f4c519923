"""Database access without blocking the event loop.

Why plain (sync) SQLAlchemy in a thread pool rather than the asyncio extension:
the async drivers (aiosqlite, asyncpg) are not in the pinned environment, while
pysqlite and psycopg2 are; our queries are few and short, so a small bounded
pool of threads (one DB connection each at most) keeps the loop responsive
with one code path for both databases.  Each ``run`` is one transaction.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from common.sqlite import sqlite_pragmas

T = TypeVar("T")


def make_engine(url: str, pool_size: int = 5) -> Engine:
    """An engine for ``url``; for SQLite also the folder, WAL and foreign keys.

    ``hide_parameters`` keeps ID numbers and phones out of error messages.
    """
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
        event.listen(engine, "connect", sqlite_pragmas)
        return engine
    return create_engine(
        url,
        future=True,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
    )


class Database:
    """An engine, a session factory and the threads that use them."""

    def __init__(self, url: str, threads: int = 8) -> None:
        self.engine = make_engine(url, pool_size=threads)
        self._sessions = sessionmaker(
            bind=self.engine, future=True, expire_on_commit=False
        )
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="db"
        )

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in a worker thread, inside one transaction."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._transaction, work)
        )

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self._sessions.begin() as session:
            return work(session)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        """The same, from synchronous code (CLI, seed)."""
        return self._transaction(work)

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        await self.run(lambda session: session.execute(text("SELECT 1")).scalar_one())

    def close(self) -> None:
        """Wait for queued work, then release the pooled connections."""
        self._executor.shutdown(wait=True)
        self.engine.dispose()
