"""The Sanic application factory.

``create_app(settings)`` builds a fresh app (nothing is created at import
time); the database and the verification service are opened in
``before_server_start`` and closed in ``after_server_stop`` and live on
``app.ctx``.  Access logging is our own: Sanic's would write request paths,
which carry ID numbers, so ours redacts them.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

from sanic import Request, Sanic
from sanic.response import BaseHTTPResponse, HTTPResponse, json

from backend.db import Database
from backend.errors import ApiError, handle_error
from backend.metrics import LATENCY, REQUESTS
from backend.routes import api_v1
from backend.senders import CodeSender, DevOutbox, LoggingCodeSender
from backend.settings import BackendSettings
from backend.sms import HttpSmsSender
from backend.verification import VerificationService
from common.metrics import exposition
from common.redaction import redact_text

APP_NAME = "shebao_backend"
access_logger = logging.getLogger("backend.access")
logger = logging.getLogger("backend")
# How long shutdown waits for codes still being delivered.
DELIVERY_GRACE_SECONDS = 10.0


def build_sender(settings: BackendSettings) -> Optional[CodeSender]:
    """The SMS gateway adapter the settings describe, if they describe one."""
    if not settings.sms_configured:
        return None
    return HttpSmsSender(
        settings.sms_url,
        settings.sms_api_key,
        settings.sms_template_id,
        timeout=settings.sms_timeout,
        retries=settings.sms_retries,
    )


def create_app(settings: BackendSettings, sender: Optional[CodeSender] = None) -> Sanic:
    """A new backend app for ``settings``; ``sender`` overrides code delivery
    (default: the dev outbox in development mode, else the HTTP SMS gateway of
    ``BACKEND_SMS_URL``; a production deployment without either is refused).

    Raises ``ConfigError`` naming the variables when the configuration must
    not serve (weak production secrets, no SMS gateway in production,
    development mode on a public interface or in a production deployment):
    see ``BackendSettings.problems``.
    """
    settings.require_servable(sender_given=sender is not None)
    app = Sanic(APP_NAME, configure_logging=False)
    app.config.REQUEST_MAX_SIZE = settings.request_max_size
    app.config.ACCESS_LOG = False
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings
    if settings.development:
        app.ctx.outbox = sender if isinstance(sender, DevOutbox) else DevOutbox()
    else:
        app.ctx.outbox = None
    if sender is None and app.ctx.outbox is None:
        sender = build_sender(settings)
    if sender is None and app.ctx.outbox is None:
        # Only outside a production deployment (problems() refuses it there).
        logger.warning(
            "no SMS gateway is configured: one-time codes are only logged (masked "
            "phone), residents receive nothing. Set BACKEND_SMS_URL, "
            "BACKEND_SMS_API_KEY and BACKEND_SMS_TEMPLATE_ID"
        )
    app.ctx.sender = sender or app.ctx.outbox or LoggingCodeSender()

    app.error_handler.add(Exception, handle_error)
    app.add_route(health, "/health", methods=["GET"], name="health")
    app.add_route(live, "/health/live", methods=["GET"], name="health_live")
    app.add_route(health, "/health/ready", methods=["GET"], name="health_ready")
    app.add_route(metrics, "/metrics", methods=["GET"], name="metrics")
    app.blueprint(api_v1(settings.development))
    app.register_listener(open_resources, "before_server_start")
    app.register_listener(close_resources, "after_server_stop")
    app.register_middleware(start_timer, "request")
    app.register_middleware(log_access, "response")
    return app


async def open_resources(app: Sanic, _loop: Any) -> None:
    """Open the database and verification service inside the server's event loop."""
    settings: BackendSettings = app.ctx.settings
    app.ctx.db = Database(settings.database_url, threads=settings.db_threads)
    app.ctx.verification = VerificationService(settings, app.ctx.db, app.ctx.sender)


async def close_resources(app: Sanic, _loop: Any) -> None:
    """Let pending code deliveries finish, then close the sender and the database."""
    verification: Optional[VerificationService] = getattr(app.ctx, "verification", None)
    if verification is not None:
        await verification.wait_for_deliveries(timeout=DELIVERY_GRACE_SECONDS)
    close = getattr(app.ctx.sender, "close", None)
    if close is not None:
        await close()
    db: Optional[Database] = getattr(app.ctx, "db", None)
    if db is not None:
        db.close()


async def live(request: Request) -> HTTPResponse:
    """Liveness: the process serves HTTP (nothing else is checked)."""
    return json({"status": "ok"})


async def metrics(request: Request) -> HTTPResponse:
    """Prometheus metrics (no personal data: labels are route patterns)."""
    body, content_type = exposition()
    return HTTPResponse(body, content_type=content_type)


async def health(request: Request) -> HTTPResponse:
    """Readiness (``/health`` and ``/health/ready``): 200 when the service and
    its database answer, 503 otherwise."""
    try:
        await request.app.ctx.db.ping()
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        raise ApiError(
            503, "service_unavailable", "The database is not reachable."
        ) from None
    return json({"status": "ok"})


async def start_timer(request: Request) -> None:
    """Note the start time so the access log and metrics can report latency."""
    request.ctx.started = time.monotonic()


def route_label(request: Request) -> str:
    """The matched route's pattern (``/api/v1/persons/<id_number>``), never the
    path itself, which may carry an ID number."""
    route = getattr(request, "route", None)
    if route is None:
        return "unmatched"
    return "/" + str(route.path).lstrip("/")


async def log_access(request: Request, response: BaseHTTPResponse) -> None:
    """Log and count each request by route pattern, never by raw path (it may hold an
    ID)."""
    started = getattr(request.ctx, "started", None)
    elapsed = time.monotonic() - started if started else 0.0
    elapsed_ms = elapsed * 1000
    route = route_label(request)
    if route != "/metrics":
        REQUESTS.labels(
            route=route, method=request.method, status=response.status
        ).inc()
        LATENCY.labels(route=route).observe(elapsed)
    access_logger.info(
        "%s %s %s %.0fms",
        request.method,
        redact_text(request.path),
        response.status,
        elapsed_ms,
    )
