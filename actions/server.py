"""The action server: rasa-sdk's app, reachable only by the Rasa server.

rasa-sdk 3.6 listens on ``0.0.0.0`` (``SANIC_HOST``) and runs any action for
any caller, trusting the ``sender_id`` in the body — so anyone who reaches the
port can run ``action_fetch_contributions`` as someone else.  This module
builds the same app (:func:`rasa_sdk.endpoint.create_app`) and adds:

- a shared secret: every request except the probes and ``/metrics`` must carry
  ``X-Shebao-Action-Token`` (Rasa sends it from ``endpoints.yml``), compared in
  constant time *before* the executor runs; otherwise 401;
- the listening interface from ``SHEBAO_HOST`` (loopback by default);
- no CORS (only Rasa calls it) and an error handler that never echoes the
  request body (rasa-sdk's returns the whole tracker in a 500);
- probes: ``/health`` and ``/health/live`` (the process answers) and
  ``/health/ready`` (the backend's ``/health`` answers within
  ``SHEBAO_BACKEND_TIMEOUT``: without it no inquiry can work);
- ``/metrics``: Prometheus metrics (:mod:`actions.metrics`), runs and latency
  per action name.
"""

from __future__ import annotations

import logging
import time

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.backend_client import BackendClient
from actions.config import ActionSettings
from actions.metrics import ACTION_LATENCY, ACTION_RUNS, action_label
from common.metrics import exposition
from common.tokens import same_secret

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Shebao-Action-Token"
OPEN_PATHS = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})


def create_action_app(settings: ActionSettings) -> Sanic:
    """rasa-sdk's app for the ``actions`` package, behind the shared secret."""
    app = create_app("actions", cors_origins=None)
    expected = settings.actions_token

    @app.get("/health/live")
    async def live(_: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/health/ready")
    async def ready(request: Request) -> HTTPResponse:
        client: BackendClient = request.app.ctx.probe_client
        if await client.health():
            return response.json({"status": "ok", "backend": "ok"})
        return response.json(
            {"status": "unavailable", "backend": "unreachable"}, status=503
        )

    @app.get("/metrics")
    async def metrics(_: Request) -> HTTPResponse:
        body, content_type = exposition()
        return HTTPResponse(body, content_type=content_type)

    @app.listener("before_server_start")
    async def open_probe_client(app: Sanic, _loop: object) -> None:
        app.ctx.probe_client = BackendClient.from_settings(settings)

    @app.listener("after_server_stop")
    async def close_probe_client(app: Sanic, _loop: object) -> None:
        await app.ctx.probe_client.close()

    @app.middleware("request")
    async def start_timer(request: Request) -> None:
        request.ctx.started = time.monotonic()

    @app.middleware("response")
    async def count_action(request: Request, answer: HTTPResponse) -> None:
        if request.path != "/webhook":
            return
        name = action_label(request.body, request.headers.get("Content-Encoding"))
        ACTION_RUNS.labels(action=name, status=str(answer.status)).inc()
        started = getattr(request.ctx, "started", None)
        if started is not None:
            ACTION_LATENCY.labels(action=name).observe(time.monotonic() - started)

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if not same_secret(request.headers.get(TOKEN_HEADER) or "", expected):
            return response.json(
                {
                    "error": "unauthorized",
                    "message": f"{TOKEN_HEADER} missing or wrong",
                },
                status=401,
            )
        return None

    @app.middleware("request")
    async def require_action_call(request: Request) -> HTTPResponse | None:
        if request.path != "/webhook" or request.method != "POST":
            return None
        try:
            call = request.json
        except Exception:  # noqa: BLE001 - Sanic raises for unparsable JSON
            call = None
        if request.headers.get("Content-Encoding") == "deflate":
            return None  # rasa-sdk decompresses it itself
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("next_action"), str)
            or not isinstance(call.get("tracker"), dict)
            or not isinstance(call["tracker"].get("sender_id"), str)
        ):
            return response.json(
                {"error": "invalid_body", "message": "Expected a Rasa action call."},
                status=400,
            )
        return None

    async def quiet_errors(request: Request, exception: Exception) -> HTTPResponse:
        if isinstance(exception, SanicException) and 400 <= exception.status_code < 500:
            return response.json(
                {"error": "bad_request", "message": str(exception)},
                status=exception.status_code,
            )
        logger.error("action server error on %s", request.path, exc_info=exception)
        return response.json(
            {"error": "internal_error", "message": "The action failed."}, status=500
        )

    app.error_handler.add(Exception, quiet_errors)
    return app
