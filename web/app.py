"""Sanic app that serves the embeddable chat widget and a demo page.

Routes:

- ``GET /health``: ``{"status": "ok", "socketio_client": true}``; the second
  field says whether the vendored socket.io client is present (``make setup``).
- ``GET /health/live``: liveness (the process answers); ``GET /health/ready``:
  readiness, 503 until the widget files and the socket.io client are there.
- ``GET /`` (and ``/?lang=en``): a mock city social-insurance bureau page that
  embeds the widget, with the Rasa URL from :class:`WebSettings` injected.
- ``GET /widget/<file>``: the widget (``shebao-widget.js``, ``shebao-widget.css``,
  ``redact.js``)
  and the socket.io client it loads from the same folder (``socket.io.min.js``,
  copied into ``web/vendor/`` from npm at set-up; never from a CDN).
  Each is also served under a versioned name with its content hash
  (``shebao-widget.<hash>.js``), gzip-compressed when the browser accepts it
  and cached for a year (``immutable``); the plain names stay valid with a
  short cache (5 minutes, then revalidated by ETag), so the one-tag embed
  ``<script src=".../widget/shebao-widget.js">`` picks up a new version within
  minutes, and the files it loads are the versioned ones (their names are
  written into the script as it is served).
- ``GET /demo/<file>``: the demo page's own stylesheet and images.

The widget itself talks straight to Rasa's socket.io channel; this server only
hands out files.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

from sanic import Sanic, response
from sanic.exceptions import NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from web.settings import WebSettings

logger = logging.getLogger(__name__)

# The only files served under /widget/: name -> (folder under web/, content type).
WIDGET_FILES: Dict[str, Tuple[str, str]] = {
    "shebao-widget.js": ("widget", "application/javascript; charset=utf-8"),
    "shebao-widget.css": ("widget", "text/css; charset=utf-8"),
    "redact.js": ("widget", "application/javascript; charset=utf-8"),
    "socket.io.min.js": ("vendor", "application/javascript; charset=utf-8"),
    "socket.io.min.js.map": ("vendor", "application/json; charset=utf-8"),
}
# What the widget script loads itself; their versioned names go into the script.
LOADED_BY_WIDGET = ("shebao-widget.css", "redact.js", "socket.io.min.js")
WIDGET_SCRIPT = "shebao-widget.js"
ASSETS_MARKER = "/*shebao:assets*/ {} /*shebao:end*/"
SHORT_CACHE = "public, max-age=300, must-revalidate"
LONG_CACHE = "public, max-age=31536000, immutable"
DEMO_ASSET_TYPES: Dict[str, str] = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PAGE_LANGUAGES = {"zh": "zh-CN", "en": "en"}
PAGE_TITLES = {
    "zh": "某市社会保险事业管理局（演示）· 社保助手",
    "en": "City Social Insurance Bureau (demo) · Shebao Assistant",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def content_security_policy(settings: WebSettings) -> str:
    """The demo page's CSP: only this server's files, sockets only to Rasa.

    The widget needs no inline script or style and no eval, so a site that
    embeds it can keep a strict policy too; it has to allow the widget's host in
    ``script-src``/``style-src`` and the Rasa origin in ``connect-src``.
    """
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self' "
            f"{settings.rasa_origin} {settings.rasa_websocket_origin}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def render_demo_page(template: str, settings: WebSettings, lang: str) -> str:
    """Fill the demo template's ``{{placeholders}}`` (every value HTML-escaped)."""
    values = {
        "socket_url": settings.rasa_url,
        "lang": lang,
        "html_lang": PAGE_LANGUAGES[lang],
        "title": PAGE_TITLES[lang],
    }
    page = template
    for key, value in values.items():
        page = page.replace("{{" + key + "}}", html.escape(value, quote=True))
    return page


@dataclass(frozen=True)
class Asset:
    """One widget file as served: its bytes, gzip bytes, type and names."""

    name: str  # the plain name, e.g. shebao-widget.js
    versioned: str  # shebao-widget.<hash>.js
    mime_type: str
    body: bytes
    gzipped: bytes

    @property
    def etag(self) -> str:
        """The versioned name is a content hash, so it doubles as a strong ETag."""
        return '"' + self.versioned + '"'


def versioned_name(name: str, body: bytes) -> str:
    """``stem.<12 hex of sha256>.ext`` (``socket.io.min.js`` keeps its stem)."""
    digest = hashlib.sha256(body).hexdigest()[:12]
    stem, _, ext = name.rpartition(".")
    return f"{stem}.{digest}.{ext}"


def _asset(name: str, body: bytes, mime_type: str) -> Asset:
    # mtime=0: the same bytes give the same gzip (and the same ETag) every time
    gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    return Asset(name, versioned_name(name, body), mime_type, body, gzipped)


def build_assets(web_dir: Path) -> Dict[str, Asset]:
    """Every widget file by plain and by versioned name (missing files skipped).

    The widget script gets the versioned names of the files it loads written
    into it (``ASSETS_MARKER``), so its own hash changes when any of them does.
    """
    assets: Dict[str, Asset] = {}
    for name in LOADED_BY_WIDGET:
        folder, mime_type = WIDGET_FILES[name]
        path = web_dir / folder / name
        if path.is_file():
            assets[name] = _asset(name, path.read_bytes(), mime_type)
    folder, mime_type = WIDGET_FILES[WIDGET_SCRIPT]
    path = web_dir / folder / WIDGET_SCRIPT
    if path.is_file():
        manifest = json.dumps(
            {name: asset.versioned for name, asset in assets.items()}, sort_keys=True
        )
        source = path.read_text(encoding="utf-8")
        if ASSETS_MARKER in source:
            source = source.replace(ASSETS_MARKER, manifest, 1)
        else:
            logger.warning("%s has no asset marker; it loads plain names", path)
        assets[WIDGET_SCRIPT] = _asset(WIDGET_SCRIPT, source.encode("utf-8"), mime_type)
    by_name = dict(assets)
    for asset in assets.values():
        by_name[asset.versioned] = asset
    return by_name


class AssetCache:
    """:func:`build_assets`, rebuilt when a source file changes (a deploy or an edit)."""

    def __init__(self, web_dir: Path) -> None:
        self.web_dir = web_dir
        self._stamp: Optional[Tuple[float, ...]] = None
        self._assets: Dict[str, Asset] = {}

    def _sources_stamp(self) -> Tuple[float, ...]:
        stamp = []
        for name in (*LOADED_BY_WIDGET, WIDGET_SCRIPT):
            path = self.web_dir / WIDGET_FILES[name][0] / name
            stamp.append(path.stat().st_mtime if path.is_file() else -1.0)
        return tuple(stamp)

    def get(self, filename: str) -> Optional[Asset]:
        """The asset for ``filename``, rebuilt first if a source changed."""
        stamp = self._sources_stamp()
        if stamp != self._stamp:
            self._assets = build_assets(self.web_dir)
            self._stamp = stamp
        return self._assets.get(filename)


def asset_response(request: Request, asset: Asset, versioned: bool) -> HTTPResponse:
    """The asset, gzipped if accepted, with its cache headers (304 if unchanged)."""
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": LONG_CACHE if versioned else SHORT_CACHE,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return response.empty(status=304, headers=headers)
    accepts = request.headers.get("accept-encoding", "")
    if "gzip" in accepts.lower():
        headers["Content-Encoding"] = "gzip"
        return response.raw(
            asset.gzipped, headers=headers, content_type=asset.mime_type
        )
    return response.raw(asset.body, headers=headers, content_type=asset.mime_type)


def create_app(settings: WebSettings, name: str = "shebao_web") -> Sanic:
    """Build the web server for ``settings`` (nothing is started or read yet)."""
    app = Sanic(name)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings
    web_dir = settings.web_dir.resolve()
    assets = AssetCache(web_dir)

    @app.before_server_start
    async def _check_files(app: Sanic, _loop: object) -> None:
        if not (web_dir / "vendor" / "socket.io.min.js").is_file():
            logger.warning(
                "%s is missing, so the widget cannot connect; run: "
                "npm ci --prefix web && mkdir -p web/vendor && cp "
                "web/node_modules/socket.io-client/dist/socket.io.min.js* web/vendor/",
                web_dir / "vendor" / "socket.io.min.js",
            )
        logger.info("Widget demo page will connect to Rasa at %s", settings.rasa_url)

    @app.route("/health", methods=["GET", "HEAD"])
    async def health(_request: Request) -> HTTPResponse:
        client = (web_dir / "vendor" / "socket.io.min.js").is_file()
        return response.json({"status": "ok", "socketio_client": client})

    @app.route("/health/live", methods=["GET", "HEAD"])
    async def live(_request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.route("/health/ready", methods=["GET", "HEAD"])
    async def ready(_request: Request) -> HTTPResponse:
        missing = sorted(
            name
            for name, (folder, _type) in WIDGET_FILES.items()
            if not name.endswith(".map") and not (web_dir / folder / name).is_file()
        )
        if missing:
            return response.json(
                {"status": "unavailable", "missing": missing}, status=503
            )
        return response.json({"status": "ok"})

    @app.route("/", methods=["GET", "HEAD"])
    async def demo_page(request: Request) -> HTTPResponse:
        lang = request.args.get("lang", "zh")
        if lang not in PAGE_LANGUAGES:
            lang = "zh"
        template = (web_dir / "demo" / "index.html").read_text(encoding="utf-8")
        headers = {
            **SECURITY_HEADERS,
            "Content-Security-Policy": content_security_policy(settings),
            "Cache-Control": "no-store",
        }
        return response.html(
            render_demo_page(template, settings, lang), headers=headers
        )

    @app.route("/privacy", methods=["GET", "HEAD"])
    async def privacy_page(_request: Request) -> HTTPResponse:
        """The demo privacy notice the assistant links to (``SHEBAO_PRIVACY_URL``)."""
        page = (web_dir / "demo" / "privacy.html").read_text(encoding="utf-8")
        return response.html(
            page, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        )

    @app.get("/widget/<filename:str>")
    async def widget_file(request: Request, filename: str) -> HTTPResponse:
        asset = assets.get(filename)
        if asset is not None:
            return asset_response(request, asset, filename == asset.versioned)
        if filename not in WIDGET_FILES:
            raise NotFound(f"no widget file {filename}")
        folder, mime_type = WIDGET_FILES[filename]
        return await _send_file(web_dir / folder / filename, mime_type)

    @app.get("/demo/<filename:str>")
    async def demo_asset(_request: Request, filename: str) -> HTTPResponse:
        mime_type = DEMO_ASSET_TYPES.get(Path(filename).suffix)
        if not _SAFE_NAME.match(filename) or mime_type is None:
            raise NotFound(f"no demo file {filename}")
        return await _send_file(web_dir / "demo" / "assets" / filename, mime_type)

    @app.exception(SanicException)
    async def json_error(_request: Request, error: SanicException) -> HTTPResponse:
        status = getattr(error, "status_code", 500) or 500
        return response.json({"error": str(error)}, status=status)

    return app


async def _send_file(path: Path, mime_type: str) -> HTTPResponse:
    if not path.is_file():
        raise NotFound(f"{path.name} not found")
    # Revalidate on every load so a new widget version is picked up at once.
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return await response.file(path, mime_type=mime_type, headers=headers)
