"""Command line: ``python -m backend serve|migrate|seed``.

* ``migrate``  bring the database (``DATABASE_URL``) to the newest schema
* ``seed``     migrate, then insert the demo dataset; prints a demo ID number
* ``serve``    migrate, then serve HTTP on ``BACKEND_HOST:BACKEND_PORT``;
               ``--seed`` seeds first (what ``make run`` wants)

Configuration is read from the environment (see ``backend.settings``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from backend.settings import BackendSettings
from common.env import ConfigError
from common.log_format import apply_log_format
from common.warnings_policy import quiet_library_deprecations

logger = logging.getLogger("backend")


def _migrate(settings: BackendSettings) -> None:
    from backend.migrate import upgrade

    upgrade(settings.database_url)


def _seed(settings: BackendSettings) -> None:
    from backend.demo import DEMO_ID_NUMBER, seed

    _migrate(settings)
    added = seed(settings.database_url)
    print(
        f"Demo data ready ({added} rows added). Demo ID number: {DEMO_ID_NUMBER}",
        flush=True,
    )


def _serve(settings: BackendSettings, with_seed: bool) -> int:
    from backend.app import create_app

    problem = settings.production_problems()
    if problem:
        print(f"refusing to start: {problem}", file=sys.stderr)
        return 2
    _migrate(settings)
    if with_seed:
        _seed(settings)
    try:
        app = create_app(settings)
    except ConfigError as exc:  # checked above; create_app enforces it too
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 2
    logger.info(
        "backend (%s mode) listening on http://%s:%s",
        settings.mode,
        settings.host,
        settings.port,
    )
    app.run(
        host=settings.host, port=settings.port, workers=1, access_log=False, motd=False
    )
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point (migrate, seed, serve); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m backend", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations")
    commands.add_parser("seed", help="migrate and insert the demo dataset")
    serve = commands.add_parser("serve", help="migrate and serve the HTTP API")
    serve.add_argument(
        "--seed", action="store_true", help="insert the demo dataset first"
    )
    args = parser.parse_args(argv)

    import sanic  # noqa: F401 - its import installs the filter we then override

    quiet_library_deprecations()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        apply_log_format()
        settings = BackendSettings.from_env()
    except ConfigError as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        _migrate(settings)
        print("Database is at the newest schema.", flush=True)
        return 0
    if args.command == "seed":
        _seed(settings)
        return 0
    return _serve(settings, with_seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
