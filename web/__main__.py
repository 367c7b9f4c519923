"""``python -m web``: serve the chat widget and its demo page.

Configuration comes from the environment (see :mod:`web.settings`).
"""

from __future__ import annotations

from web.app import create_app
from web.settings import WebSettings


def main() -> None:
    settings = WebSettings.from_env()
    app = create_app(settings)
    app.run(
        host=settings.host,
        port=settings.port,
        access_log=False,
        motd=False,
        workers=1,
    )


if __name__ == "__main__":
    main()
