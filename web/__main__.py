"""``python -m web``: serve the chat widget and its demo page.

Configuration comes from the environment (see :mod:`web.settings`).
"""

from __future__ import annotations

import sanic  # noqa: F401 - its import installs the filter we then override

from common.log_format import apply_log_format
from common.warnings_policy import quiet_library_deprecations

quiet_library_deprecations()

from web.app import create_app  # noqa: E402 - after the warning filters
from web.settings import WebSettings  # noqa: E402


def main() -> None:
    """Serve the widget and demo pages with the settings from the environment."""
    settings = WebSettings.from_env()
    app = create_app(settings)
    apply_log_format()  # after Sanic set up its loggers
    app.run(
        host=settings.host,
        port=settings.port,
        access_log=False,
        motd=False,
        workers=1,
    )


if __name__ == "__main__":
    main()
