"""The Sanic application factory of the review console.

``create_app(settings)`` builds a fresh app; the database, the event source,
the background summarizer and (with ``SHEBAO_EVENT_BROKER_URL``) the consumer
of Rasa's event queue that wakes it are opened in ``before_server_start`` and
closed in ``after_server_stop``.  Middleware loads the staff session from its cookie and
rejects every POST whose CSRF token is missing or wrong (403) before a handler
runs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from sanic import Request, Sanic
from sanic.exceptions import NotFound, SanicException
from sanic.response import BaseHTTPResponse, HTTPResponse, file, json

from console import repository as repo
from console import security
from console.db import Database
from console.event_queue import EventQueueConsumer, Wakeups
from console.events import EventSource, SQLTrackerEventSource
from console.retention import run_retention
from console.routes import blueprints
from console.settings import ConsoleSettings
from console.summarize import Summarizer
from console.web import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    make_environment,
    render,
    set_cookie,
)

APP_NAME = "shebao_console"
STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
}
logger = logging.getLogger("console")
access_logger = logging.getLogger("console.access")
SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def load_intents(path: str) -> List[str]:
    """The domain's intents (for relabelling), or none if the file is not there."""
    try:
        domain = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    names = []
    for item in domain.get("intents") or []:
        names.append(next(iter(item)) if isinstance(item, dict) else str(item))
    return sorted(set(names))


def create_app(
    settings: ConsoleSettings, source: Optional[EventSource] = None
) -> Sanic:
    """A new console app; ``source`` overrides the tracker-store event source.

    Raises ``UnsafeForProduction`` for a weak ``CONSOLE_SECRET`` in production.
    """
    settings.require_servable()
    app = Sanic(APP_NAME, configure_logging=False)
    app.config.ACCESS_LOG = False
    app.config.REQUEST_MAX_SIZE = 256 * 1024
    app.config.PROXIES_COUNT = settings.proxies_count
    app.ctx.settings = settings
    app.ctx.given_source = source
    app.ctx.templates = make_environment()
    app.ctx.intents = load_intents(settings.domain_path)
    app.add_route(health, "/health", methods=["GET"], name="health")
    app.add_route(health, "/health/ready", methods=["GET"], name="health_ready")
    app.add_route(live, "/health/live", methods=["GET"], name="health_live")
    app.add_route(static, "/static/<name:str>", methods=["GET"], name="static")
    app.add_route(static_vendor, "/static/vendor/<name:str>", methods=["GET"])
    for blueprint in blueprints():
        app.blueprint(blueprint)
    app.error_handler.add(Exception, handle_error)
    app.register_listener(open_resources, "before_server_start")
    app.register_listener(close_resources, "after_server_stop")
    app.register_middleware(load_session, "request")
    app.register_middleware(finish_response, "response")
    return app


async def open_resources(app: Sanic, _loop: Any) -> None:
    """Open the database and start the summarizer inside the server's event loop."""
    settings: ConsoleSettings = app.ctx.settings
    app.ctx.db = Database(settings.database_url, threads=settings.db_threads)
    app.ctx.db.create_schema()
    app.ctx.source = app.ctx.given_source or SQLTrackerEventSource(settings.tracker_url)
    app.ctx.summarizer = Summarizer(
        app.ctx.db, app.ctx.source, low_confidence=settings.low_confidence
    )
    app.ctx.wakeups = Wakeups()
    loop = asyncio.get_running_loop()
    app.ctx.consumer = None
    app.ctx.consumer_task = None
    if settings.event_queue.enabled:
        app.ctx.consumer = EventQueueConsumer(settings.event_queue, app.ctx.wakeups)
        app.ctx.consumer_task = loop.create_task(app.ctx.consumer.run())
    app.ctx.summary_task = loop.create_task(summary_loop(app))


async def close_resources(app: Sanic, _loop: Any) -> None:
    """Stop the consumer and summarizer, then close the event source and database."""
    for name in ("consumer_task", "summary_task"):
        task = getattr(app.ctx, name, None)
        if task is None:
            continue
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            pass
    if getattr(app.ctx, "source", None) is not None:
        app.ctx.source.close()
    if getattr(app.ctx, "db", None) is not None:
        app.ctx.db.close()


async def summary_loop(app: Sanic) -> None:
    """Fold new tracker events into the summary table.

    Every ``CONSOLE_SUMMARY_INTERVAL`` seconds, and at once when a message
    from Rasa's event queue arrives (``console.event_queue``); the messages a
    pass covers are acknowledged after its fold has committed.
    """
    settings: ConsoleSettings = app.ctx.settings
    wakeups: Wakeups = app.ctx.wakeups
    last_purge = 0.0
    last_retention = 0.0
    while True:
        batch = wakeups.take()
        try:
            await app.ctx.db.run(lambda _c: None)  # keep the pool warm
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, app.ctx.summarizer.run_until_drained)
            settled, batch = batch, []
            await wakeups.settle(settled)
            if app.ctx.consumer is not None:
                hwm = await app.ctx.db.run(app.ctx.summarizer.high_water_mark)
                await wakeups.settle_covered(hwm)
            now = time.time()
            if now - last_purge > 300:
                idle = settings.session_idle_seconds
                await app.ctx.db.run(functools.partial(_purge, idle=idle, now=now))
                last_purge = now
            if now - last_retention > settings.retention_interval:
                last_retention = now
                await loop.run_in_executor(
                    None, functools.partial(scheduled_retention, app)
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep serving; log and retry
            wakeups.give_back(batch)
            logger.exception("summary update failed; retrying")
        await wakeups.wait(settings.summary_interval)


def scheduled_retention(app: Sanic) -> Optional[Dict[str, int]]:
    """The retention job on its schedule: only when an admin has set the period."""
    days = app.ctx.db.run_sync(repo.retention_days)
    if days is None:
        return None
    counts = run_retention(app.ctx.db, app.ctx.source, days, staff="schedule")
    logger.info("retention (%s days): %s", days, counts)
    return counts


def _purge(connection: Any, idle: int, now: float) -> int:
    return security.purge_sessions(connection, idle, now)


async def live(request: Request) -> HTTPResponse:
    """Liveness: the process answers."""
    return json({"status": "ok"})


async def health(request: Request) -> HTTPResponse:
    """Readiness: the console's database answers."""
    try:
        await request.app.ctx.db.ping()
    except Exception:  # noqa: BLE001
        return json({"status": "unavailable"}, status=503)
    return json({"status": "ok"})


def _static_file(folder: Path, name: str) -> Path:
    path = folder / name
    suffix = path.suffix
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        raise NotFound("no such file")
    if not path.is_file():
        raise NotFound("no such file")
    return path


async def static(request: Request, name: str) -> HTTPResponse:
    """Serve a console asset from the fixed list of static files."""
    path = _static_file(STATIC, name)
    return await file(str(path), mime_type=STATIC_TYPES[path.suffix])


async def static_vendor(request: Request, name: str) -> HTTPResponse:
    """Serve a vendored library from the fixed list of static files."""
    path = _static_file(STATIC / "vendor", name)
    return await file(str(path), mime_type=STATIC_TYPES[path.suffix])


SKIP_SESSION = ("/health", "/static/")


async def load_session(request: Request) -> Optional[HTTPResponse]:
    """Find the staff session and check the CSRF token of every POST."""
    request.ctx.session = None
    request.ctx.csrf_token = ""
    request.ctx.new_prelogin = ""
    request.ctx.started = time.monotonic()
    if request.path.startswith(SKIP_SESSION):
        return None
    settings: ConsoleSettings = request.app.ctx.settings
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        now = time.time()
        request.ctx.session = await request.app.ctx.db.run(
            lambda c: security.load_session(
                c, token, settings.session_idle_seconds, now
            )
        )
    if request.ctx.session is not None:
        request.ctx.csrf_token = request.ctx.session.csrf_token
    else:
        nonce = request.cookies.get(PRELOGIN_COOKIE, "")
        if not nonce or len(nonce) > 64:
            nonce = secrets.token_urlsafe(24)
            request.ctx.new_prelogin = nonce
        request.ctx.prelogin = nonce
        request.ctx.csrf_token = security.pre_login_csrf(settings.secret, nonce)
    if request.method == "POST":
        given = request.form.get("csrf_token") if request.form else None
        if request.ctx.new_prelogin or not security.tokens_match(
            request.ctx.csrf_token, given
        ):
            return render(request, "error.html", status=403, message="csrf_failed")
    return None


async def finish_response(request: Request, response: BaseHTTPResponse) -> None:
    """Add the security headers and the pre-login CSRF cookie to every response."""
    for name, value in SECURITY_HEADERS.items():
        if name == "Cache-Control" and request.path.startswith("/static/"):
            continue
        response.headers.setdefault(name, value)
    nonce = getattr(request.ctx, "new_prelogin", "")
    if nonce and PRELOGIN_COOKIE not in response.cookies:
        set_cookie(request, response, PRELOGIN_COOKIE, nonce)
    started = getattr(request.ctx, "started", None)
    access_logger.info(
        "%s %s %s %.0fms",
        request.method,
        request.path,
        response.status,
        (time.monotonic() - started) * 1000 if started else 0.0,
    )


async def handle_error(request: Request, exception: Exception) -> HTTPResponse:
    """Render errors as pages and log server errors, without leaking tracebacks."""
    status = (
        getattr(exception, "status_code", 500)
        if isinstance(exception, SanicException)
        else 500
    )
    if status >= 500:
        logger.exception("unhandled error", exc_info=exception)
    message = {404: "not_found", 403: "forbidden", 405: "bad_request"}.get(
        status, "bad_request"
    )
    if not hasattr(request.ctx, "session"):
        request.ctx.session = None
    return render(request, "error.html", status=status, message=message)
