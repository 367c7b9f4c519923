"""The action server: rasa-sdk's app, reachable only by the Rasa server.

rasa-sdk 3.6 listens on ``0.0.0.0`` (``SANIC_HOST``) and runs any action for
any caller, trusting the ``sender_id`` in the body — so anyone who reaches the
port can run ``action_fetch_contributions`` as someone else.  This module
builds the same app (:func:`rasa_sdk.endpoint.create_app`) and adds:

- a shared secret: every request except ``/health`` must carry
  ``X-Shebao-Action-Token`` (Rasa sends it from ``endpoints.yml``), compared in
  constant time *before* the executor runs; otherwise 401;
- the listening interface from ``SHEBAO_HOST`` (loopback by default);
- no CORS (only Rasa calls it) and an error handler that never echoes the
  request body (rasa-sdk's returns the whole tracker in a 500).
"""

from __future__ import annotations

import logging

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.config import ActionSettings
from common.tokens import same_secret

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Shebao-Action-Token"
OPEN_PATHS = frozenset({"/health"})


def create_action_app(settings: ActionSettings) -> Sanic:
    """rasa-sdk's app for the ``actions`` package, behind the shared secret."""
    app = create_app("actions", cors_origins=None)
    expected = settings.actions_token

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
