"""Settings of the web-widget server, read once from the environment.

- ``WEB_HOST`` (``127.0.0.1``): interface the web server listens on.
- ``WEB_PORT`` (``8080``): port the web server listens on.
- ``SHEBAO_RASA_URL`` (``http://localhost:5005``): the Rasa server *as the
  browser reaches it*; the demo page hands it to the widget as
  ``data-socket-url``.
- ``SHEBAO_WEB_DIR`` (``<repo>/web``): folder with ``widget/``, ``vendor/``
  and ``demo/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from common.env import env_int, env_str


@dataclass(frozen=True)
class WebSettings:
    """Where the web server listens, where its files are and where Rasa is."""

    host: str = "127.0.0.1"
    port: int = 8080
    rasa_url: str = "http://localhost:5005"
    web_dir: Path = Path(__file__).resolve().parent

    def __post_init__(self) -> None:
        parts = urlsplit(self.rasa_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"SHEBAO_RASA_URL must be an http(s) URL such as "
                f"http://localhost:5005, not {self.rasa_url!r}"
            )

    @classmethod
    def from_env(cls) -> "WebSettings":
        """Settings from ``WEB_*``/``SHEBAO_*`` variables, with local defaults."""
        return cls(
            host=env_str("WEB_HOST", "127.0.0.1"),
            port=env_int("WEB_PORT", 8080),
            rasa_url=env_str("SHEBAO_RASA_URL", "http://localhost:5005").rstrip("/"),
            web_dir=Path(
                env_str("SHEBAO_WEB_DIR", str(Path(__file__).resolve().parent))
            ),
        )

    @property
    def rasa_origin(self) -> str:
        """``scheme://host[:port]`` of the Rasa server (no path)."""
        parts = urlsplit(self.rasa_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def rasa_websocket_origin(self) -> str:
        """The same origin with the WebSocket scheme (``ws``/``wss``)."""
        parts = urlsplit(self.rasa_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}"
