"""``python -m tools.backup``: dump, wipe, restore and compare, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
import sqlalchemy as sa

from backend.demo import seed
from backend.migrate import upgrade
from tools import backup

TRACKER = sa.MetaData()
# The columns of Rasa's SQLTrackerStore "events" table (the tool copies any schema).
EVENTS = sa.Table(
    "events",
    TRACKER,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def _make_tracker(url: str) -> None:
    engine = sa.create_engine(url)
    TRACKER.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            EVENTS.insert(),
            [
                {
                    "sender_id": f"rest:user-{i % 3}",
                    "type_name": "user",
                    "timestamp": 1764600000.0 + i,
                    "intent_name": "ask_individual_payment",
                    "data": json.dumps(
                        {"text": "我想自己交医保", "n": i}, ensure_ascii=False
                    ),
                }
                for i in range(25)
            ],
        )
    engine.dispose()


def _snapshot(url: str) -> Dict[str, List[Tuple]]:
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(
                    (
                        tuple(str(v) for v in row)
                        for row in connection.execute(sa.select(table))
                    ),
                )
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def _wipe(url: str) -> None:
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Dict[str, str]]:
    if request.param == "sqlite":
        urls = {
            "backend": f"sqlite:///{tmp_path / 'backend.sqlite3'}",
            "tracker": f"sqlite:///{tmp_path / 'tracker.sqlite3'}",
        }
        cleanup: List[str] = []
    else:
        postgres = request.getfixturevalue("postgres")
        cleanup = [postgres.create_database(), postgres.create_database()]
        urls = {
            "backend": postgres.url(cleanup[0]),
            "tracker": postgres.url(cleanup[1]),
        }
    upgrade(urls["backend"])
    assert seed(urls["backend"]) > 0
    _make_tracker(urls["tracker"])
    yield urls
    for name in cleanup:
        request.getfixturevalue("postgres").drop_database(name)


def _env(monkeypatch: pytest.MonkeyPatch, urls: Dict[str, str]) -> None:
    monkeypatch.setenv("DATABASE_URL", urls["backend"])
    monkeypatch.setenv("SHEBAO_TRACKER_URL", urls["tracker"])


@pytest.mark.parametrize("method", ["auto", "sqlalchemy"])
def test_dump_wipe_restore_gives_back_every_row(
    databases: Dict[str, str],
    method: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if method == "auto" and databases["backend"].startswith("postgresql"):
        if not shutil.which("pg_dump"):
            pytest.skip("pg_dump is not installed")
    _env(monkeypatch, databases)
    before = {name: _snapshot(url) for name, url in databases.items()}
    assert sum(len(rows) for rows in before["backend"].values()) > 5
    assert len(before["tracker"]["events"]) == 25

    out = tmp_path / f"dump-{method}"
    assert backup.main(["dump", "--out", str(out), "--method", method]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    expected = {"sqlite": "sqlite", "postgresql": "pg_dump"}[
        sa.engine.make_url(databases["backend"]).get_backend_name()
    ]
    for name in ("backend", "tracker"):
        entry = manifest["databases"][name]
        assert entry["method"] == (expected if method == "auto" else "sqlalchemy")
        assert entry["rows"] == {t: len(rows) for t, rows in before[name].items()}

    for url in databases.values():
        _wipe(url)
    assert _snapshot(databases["tracker"])["events"] == []

    assert backup.main(["restore", "--from", str(out)]) == 0
    assert {name: _snapshot(url) for name, url in databases.items()} == before
    # the restored backend keeps working: new rows get fresh ids
    engine = sa.create_engine(databases["tracker"])
    with engine.begin() as connection:
        connection.execute(
            EVENTS.insert(),
            [{"sender_id": "rest:new", "type_name": "user", "timestamp": 1.0}],
        )
    engine.dispose()


def test_only_one_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    urls = {
        "backend": f"sqlite:///{tmp_path / 'b.sqlite3'}",
        "tracker": f"sqlite:///{tmp_path / 't.sqlite3'}",
    }
    _make_tracker(urls["tracker"])
    _env(monkeypatch, urls)
    assert backup.main(["dump", "--out", str(tmp_path / "d"), "--only", "tracker"]) == 0
    manifest = json.loads(
        (tmp_path / "d" / "manifest.json").read_text(encoding="utf-8")
    )
    assert list(manifest["databases"]) == ["tracker"]
    with pytest.raises(SystemExit, match="no backend"):
        backup.main(["restore", "--from", str(tmp_path / "d"), "--only", "backend"])


def test_values_survive_the_portable_format() -> None:
    for value in (dt.datetime(2025, 6, 15, 4, 0), dt.date(2025, 1, 1), b"\x00\x01"):
        assert backup._decode(json.loads(json.dumps(backup._encode(value)))) == value
    assert (
        str(backup._decode(backup._encode(__import__("decimal").Decimal("35.00"))))
        == "35.00"
    )


def test_defaults_are_the_services(tmp_path: Path) -> None:
    urls = backup.database_urls({"SHEBAO_VAR_DIR": str(tmp_path)})
    assert urls["backend"] == f"sqlite:///{tmp_path.resolve() / 'backend.sqlite3'}"
    assert urls["tracker"] == f"sqlite:///{tmp_path.resolve() / 'tracker.sqlite3'}"
    assert backup.database_urls({"DATABASE_URL": "postgres://a@h/db"})["backend"] == (
        "postgresql://a@h/db"
    )
