"""One JSON error shape for every failure: ``{"error": code, "message": text}``.

Clients (the Rasa actions) branch on the stable ``error`` code, never on the
message or on Sanic's default HTML pages.  Unexpected exceptions become a 500
``internal_error`` whose log line is redacted (no ID numbers, phones or codes).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Dict, Optional

from sanic import Request
from sanic.exceptions import (
    MethodNotSupported,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    SanicException,
)
from sanic.response import HTTPResponse, json
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from common.redaction import redact_text

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An expected failure with a stable code, an HTTP status and extra fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Optional[Dict[str, str]] = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Optional[Dict[str, str]] = None,
    **extra: Any,
) -> HTTPResponse:
    """The one JSON error shape every endpoint returns, so clients parse a single
    format."""
    return json(
        {"error": code, "message": message, **extra}, status=status, headers=headers
    )


# Sanic's own exceptions that can reach us before or instead of a handler.
_SANIC_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
    416: "bad_request",
    417: "bad_request",
    503: "service_unavailable",
}


def handle_error(request: Request, exception: Exception) -> HTTPResponse:
    """The app's only error handler (registered for ``Exception``)."""
    if isinstance(exception, ApiError):
        return error_response(
            exception.status,
            exception.code,
            exception.message,
            headers=exception.headers,
            **exception.extra,
        )
    if isinstance(exception, NotFound):
        return error_response(404, "not_found", "No such resource.")
    if isinstance(exception, MethodNotSupported):
        return error_response(
            405,
            "method_not_allowed",
            "This resource does not support that method.",
            headers=dict(getattr(exception, "headers", {}) or {}),
        )
    if isinstance(exception, PayloadTooLarge):
        limit = request.app.config.REQUEST_MAX_SIZE
        return error_response(
            413, "body_too_large", f"The request body exceeds {limit} bytes."
        )
    if isinstance(exception, RequestTimeout):
        return error_response(408, "request_timeout", "The request took too long.")
    if isinstance(exception, SanicException) and 400 <= exception.status_code < 500:
        status = exception.status_code
        return error_response(
            status, _SANIC_CODES.get(status, "bad_request"), "The request is invalid."
        )
    if isinstance(exception, (OperationalError, PoolTimeout)):
        _log_unexpected(request, exception)
        return error_response(
            503, "service_unavailable", "The database is not reachable; try again."
        )
    _log_unexpected(request, exception)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def _log_unexpected(request: Request, exception: BaseException) -> None:
    """Log the failure with personal data masked (tracebacks can quote values)."""
    details = "".join(
        traceback.format_exception(type(exception), exception, exception.__traceback__)
    )
    logger.error(
        "unhandled %s on %s %s\n%s",
        type(exception).__name__,
        request.method,
        redact_text(request.path),
        redact_text(details),
    )
