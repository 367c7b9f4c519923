"""``python -m actions``: run the action server (see :mod:`actions.server`)."""

from __future__ import annotations

import argparse
import logging.config
import sys
from typing import List, Optional

import sanic  # noqa: F401 - its import installs the filter we then override
import yaml

from common.warnings_policy import quiet_library_deprecations

quiet_library_deprecations()

from actions.config import ActionSettings  # noqa: E402 - after the warning filters
from actions.server import create_action_app  # noqa: E402
from common.log_format import apply_log_format  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    """Read the settings, refuse unsafe ones, serve until stopped."""
    parser = argparse.ArgumentParser(prog="python -m actions", description=__doc__)
    parser.add_argument("--logging-config-file", help="a logging dictConfig YAML file")
    args = parser.parse_args(argv)
    if args.logging_config_file:
        with open(args.logging_config_file, encoding="utf-8") as handle:
            logging.config.dictConfig(yaml.safe_load(handle))
    apply_log_format()
    settings = ActionSettings.from_env()
    settings.check_for_production()
    app = create_action_app(settings)
    app.run(settings.host, settings.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
