"""Command line: ``python -m console serve|create-staff|retention|summarize``.

* ``serve``                 serve the console on ``CONSOLE_HOST:CONSOLE_PORT``
* ``create-staff USER --role reviewer|admin``
                            add a staff member, or reset one's password and role;
                            the password is prompted for, or read from stdin
                            (first line) when stdin is not a terminal
* ``retention [--days N]``  delete conversations older than N days (N is then
                            saved as the setting; without it the saved setting)
                            from the tracker store, the summaries and annotations
* ``summarize``             bring the summary table up to date once and exit

Configuration is read from the environment (see ``console.settings``).
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from typing import List, Optional

from common.env import ConfigError
from console.settings import ConsoleSettings

logger = logging.getLogger("console")


def _database(settings: ConsoleSettings):  # type: ignore[no-untyped-def]
    from console.db import Database

    db = Database(settings.database_url, threads=1)
    db.create_schema()
    return db


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != first:
            raise SystemExit("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _create_staff(settings: ConsoleSettings, username: str, role: str) -> int:
    from console import repository as repo
    from console.security import StaffError, create_staff

    password = _read_password()
    db = _database(settings)
    try:

        def work(connection):  # type: ignore[no-untyped-def]
            member = create_staff(connection, username, password, role)
            repo.add_audit(
                connection,
                "cli",
                "save_staff",
                None,
                {"user": member.username, "role": role},
            )
            return member

        member = db.run_sync(work)
    except StaffError as exc:
        print(f"not created: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    print(f"staff member {member.username} ({member.role}) saved")
    return 0


def _retention(settings: ConsoleSettings, days: Optional[int]) -> int:
    from console import repository as repo
    from console.events import SQLTrackerEventSource
    from console.retention import run_retention

    db = _database(settings)
    source = SQLTrackerEventSource(settings.tracker_url)
    try:
        if days is not None:
            if days < 1:
                print("--days must be at least 1", file=sys.stderr)
                return 2
            db.run_sync(lambda c: repo.set_retention_days(c, days))
        else:
            days = db.run_sync(repo.retention_days)
            if days is None:
                print("no retention period set: pass --days N", file=sys.stderr)
                return 2
        counts = run_retention(db, source, days, staff="cli")
    finally:
        source.close()
        db.close()
    print(
        f"retention {days} days: deleted "
        + ", ".join(f"{value} {key}" for key, value in counts.items())
    )
    return 0


def _summarize(settings: ConsoleSettings) -> int:
    from console.events import SQLTrackerEventSource
    from console.summarize import Summarizer

    db = _database(settings)
    source = SQLTrackerEventSource(settings.tracker_url)
    try:
        count = Summarizer(db, source, settings.low_confidence).run_until_drained()
    finally:
        source.close()
        db.close()
    print(f"summarized {count} new events")
    return 0


def _serve(settings: ConsoleSettings) -> int:
    from console.app import create_app

    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 2
    logger.info("review console on http://%s:%s", settings.host, settings.port)
    app.run(
        host=settings.host, port=settings.port, workers=1, access_log=False, motd=False
    )
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point (serve, create-staff, ...); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m console", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the review console")
    create = commands.add_parser("create-staff", help="add or reset a staff member")
    create.add_argument("username")
    create.add_argument("--role", choices=["reviewer", "admin"], default="reviewer")
    retention = commands.add_parser("retention", help="delete old conversations")
    retention.add_argument("--days", type=int, default=None)
    commands.add_parser("summarize", help="update the summary table once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = ConsoleSettings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    if args.command == "create-staff":
        return _create_staff(settings, args.username, args.role)
    if args.command == "retention":
        return _retention(settings, args.days)
    return _summarize(settings)


if __name__ == "__main__":
    sys.exit(main())
