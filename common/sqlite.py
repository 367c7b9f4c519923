"""The embedded SQLite databases' connection settings, the same for every store.

Passed to SQLAlchemy's ``connect`` event (it is a plain DB-API callback, so
nothing here imports a framework).  WAL lets readers (the console, a backup)
run beside the writer; ``synchronous=NORMAL`` is still corruption-safe in WAL
mode and only skips an fsync per commit.
"""

from __future__ import annotations

from typing import Any


def sqlite_pragmas(
    dbapi_connection: Any, _record: Any = None, foreign_keys: bool = True
) -> None:
    """Set WAL, ``synchronous=NORMAL`` and (by default) foreign keys on a new connection."""
    cursor = dbapi_connection.cursor()
    if foreign_keys:
        cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sqlite_pragmas_without_foreign_keys(
    dbapi_connection: Any, _record: Any = None
) -> None:
    """The same for Rasa's tracker store, whose schema declares no foreign keys."""
    sqlite_pragmas(dbapi_connection, _record, foreign_keys=False)
