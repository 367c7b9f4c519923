"""``python -m tools.backup dump|restore``: back up and restore the two databases.

The assistant keeps state in two databases: the **backend** database
(``DATABASE_URL``: insured people, contributions, codes, tokens) and the Rasa
**tracker** store (``SHEBAO_TRACKER_URL``: conversations, already masked).
Both are SQLite files on one machine and PostgreSQL in production.

- ``dump --out DIR``: writes ``DIR/backend.<ext>`` and ``DIR/tracker.<ext>`` and
  a ``DIR/manifest.json`` (which database, which method, row counts);
- ``restore --from DIR``: replaces the contents of each database with its dump
  (stop the services first, or at least the one whose database you restore).

Methods (``--method auto`` picks the first that applies):

- ``sqlite``: SQLite's online backup API (``sqlite3.Connection.backup``), a
  consistent copy even while the service writes; restore copies it back the
  same way;
- ``pg_dump``: PostgreSQL's own ``pg_dump --format=custom`` and ``pg_restore
  --clean --if-exists --no-owner`` (needs the client tools of the server's
  major version on ``PATH``);
- ``sqlalchemy``: a portable table-by-table copy to JSON lines for when
  ``pg_dump`` is not installed; restore deletes the rows and inserts the dumped
  ones in foreign-key order (the schema must already exist: run
  ``python -m backend migrate`` / start Rasa once first).

``--only backend`` or ``--only tracker`` limits either command to one database.
A dump holds personal data of the backend (ID numbers, phones): keep it
encrypted and access-controlled like the database itself.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import decimal
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from common.env import env_str

DATABASES = ("backend", "tracker")
METHODS = ("auto", "sqlite", "pg_dump", "sqlalchemy")
EXTENSIONS = {"sqlite": "sqlite3", "pg_dump": "pgdump", "sqlalchemy": "jsonl"}


def database_urls(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The two databases, as the services find them (same variables, same defaults)."""
    var_dir = Path(env_str("SHEBAO_VAR_DIR", "var", environ)).resolve()
    backend = env_str(
        "DATABASE_URL", f"sqlite:///{var_dir / 'backend.sqlite3'}", environ
    )
    if backend.startswith("postgres://"):
        backend = "postgresql://" + backend[len("postgres://") :]
    tracker = env_str(
        "SHEBAO_TRACKER_URL", f"sqlite:///{var_dir / 'tracker.sqlite3'}", environ
    )
    return {"backend": backend, "tracker": tracker}


def choose_method(url: str, requested: str = "auto") -> str:
    """Pick the dump method for the URL, refusing one that cannot read it."""
    backend_name = make_url(url).get_backend_name()
    if requested != "auto":
        if requested == "sqlite" and backend_name != "sqlite":
            raise SystemExit(f"--method sqlite needs a SQLite URL, not {backend_name}")
        if requested == "pg_dump" and backend_name != "postgresql":
            raise SystemExit(
                f"--method pg_dump needs a PostgreSQL URL, not {backend_name}"
            )
        return requested
    if backend_name == "sqlite":
        return "sqlite"
    if (
        backend_name == "postgresql"
        and shutil.which("pg_dump")
        and shutil.which("pg_restore")
    ):
        return "pg_dump"
    return "sqlalchemy"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise SystemExit(f"cannot back up an in-memory SQLite database ({url})")
    return Path(database)


def _libpq_url(url: str) -> str:
    """``postgresql://...`` without a ``+driver`` part, for pg_dump / pg_restore."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


# ---- sqlite ------------------------------------------------------------------------
def _sqlite_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


# ---- pg_dump -----------------------------------------------------------------------
def _run(command: List[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # stderr names tables and options, not row contents
        raise SystemExit(
            f"{command[0]} failed ({result.returncode}): {result.stderr.strip()}"
        )


# ---- sqlalchemy --------------------------------------------------------------------
def _encode(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return {"$t": type(value).__name__, "v": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$t": "decimal", "v": str(value)}
    if isinstance(value, (bytes, memoryview)):
        return {"$t": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "$t" in value:
        kind, raw = value["$t"], value["v"]
        if kind == "datetime":
            return dt.datetime.fromisoformat(raw)
        if kind == "date":
            return dt.date.fromisoformat(raw)
        if kind == "time":
            return dt.time.fromisoformat(raw)
        if kind == "decimal":
            return decimal.Decimal(raw)
        if kind == "bytes":
            return base64.b64decode(raw)
    return value


def _tables(engine: sa.engine.Engine) -> List[sa.Table]:
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    return list(metadata.sorted_tables)  # parents before children


def _sqlalchemy_dump(url: str, target: Path) -> Dict[str, int]:
    engine = sa.create_engine(url)
    counts: Dict[str, int] = {}
    try:
        with engine.connect() as connection, target.open("w", encoding="utf-8") as out:
            for table in _tables(engine):
                counts[table.name] = 0
                for row in connection.execute(sa.select(table)):
                    record = {k: _encode(v) for k, v in row._mapping.items()}
                    out.write(json.dumps({"table": table.name, "row": record}) + "\n")
                    counts[table.name] += 1
    finally:
        engine.dispose()
    return counts


def _sqlalchemy_restore(url: str, source: Path) -> None:
    engine = sa.create_engine(url)
    try:
        tables = _tables(engine)
        by_name = {table.name: table for table in tables}
        rows: Dict[str, List[Dict[str, Any]]] = {table.name: [] for table in tables}
        with source.open(encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)
                if item["table"] not in by_name:
                    raise SystemExit(
                        f"table {item['table']} is not in {make_url(url).database}"
                    )
                rows[item["table"]].append(
                    {k: _decode(v) for k, v in item["row"].items()}
                )
        with engine.begin() as connection:
            for table in reversed(tables):
                connection.execute(table.delete())
            for table in tables:
                if rows[table.name]:
                    connection.execute(table.insert(), rows[table.name])
            if engine.dialect.name == "postgresql":
                _reset_sequences(connection, tables)
    finally:
        engine.dispose()


def _reset_sequences(connection: Any, tables: Sequence[sa.Table]) -> None:
    """Move each serial column's sequence past the restored ids."""
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            sequence = connection.execute(
                sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": table.name, "c": column.name},
            ).scalar()
            if sequence:
                connection.execute(
                    sa.text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": sequence},
                )


def row_counts(url: str) -> Dict[str, int]:
    """Rows per table (what the manifest records and the tests compare)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: int(
                    connection.execute(
                        sa.select(sa.func.count()).select_from(table)
                    ).scalar()
                    or 0
                )
                for table in _tables(engine)
            }
    finally:
        engine.dispose()


# ---- commands ----------------------------------------------------------------------
def dump(url: str, out_dir: Path, name: str, method: str = "auto") -> Dict[str, Any]:
    """Dump one database into ``out_dir``; returns its manifest entry."""
    chosen = choose_method(url, method)
    target = out_dir / f"{name}.{EXTENSIONS[chosen]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if chosen == "sqlite":
        _sqlite_copy(_sqlite_path(url), target)
    elif chosen == "pg_dump":
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                f"--file={target}",
                _libpq_url(url),
            ]
        )
    else:
        _sqlalchemy_dump(url, target)
    return {"method": chosen, "file": target.name, "rows": row_counts(url)}


def restore(url: str, in_dir: Path, entry: Mapping[str, Any]) -> None:
    """Replace the contents of the database at ``url`` with the dump ``entry``."""
    source = in_dir / str(entry["file"])
    if not source.is_file():
        raise SystemExit(f"{source} is missing")
    method = str(entry["method"])
    if method == "sqlite":
        target = _sqlite_path(url)
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True)
        _sqlite_copy(source, target)
    elif method == "pg_dump":
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={_libpq_url(url)}",
                str(source),
            ]
        )
    else:
        _sqlalchemy_restore(url, source)


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point (dump, restore); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.backup", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dump_parser = commands.add_parser("dump", help="dump the databases into a folder")
    dump_parser.add_argument("--out", required=True, type=Path, help="folder to write")
    dump_parser.add_argument("--method", choices=METHODS, default="auto")
    restore_parser = commands.add_parser(
        "restore", help="restore the databases from a dump"
    )
    restore_parser.add_argument("--from", dest="source", required=True, type=Path)
    for sub in (dump_parser, restore_parser):
        sub.add_argument("--only", choices=DATABASES, action="append")
    args = parser.parse_args(argv)
    urls = database_urls()
    names = args.only or list(DATABASES)
    if args.command == "dump":
        entries: Dict[str, Dict[str, Any]] = {
            name: dump(urls[name], args.out, name, args.method) for name in names
        }
        manifest = {
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "databases": entries,
        }
        (args.out / "manifest.json").write_text(
            json.dumps(manifest, indent=2), encoding="utf-8"
        )
        for name, entry in entries.items():
            print(
                f"{name}: {entry['method']} -> {args.out / entry['file']} "
                f"({sum(entry['rows'].values())} rows)"
            )
        return 0
    manifest_path = args.source / "manifest.json"
    if not manifest_path.is_file():
        raise SystemExit(f"{manifest_path} is missing: not a dump folder")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for name in names:
        entry = manifest["databases"].get(name)
        if entry is None:
            raise SystemExit(f"the dump has no {name} database")
        restore(urls[name], args.source, entry)
        print(f"{name}: restored from {args.source / entry['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
