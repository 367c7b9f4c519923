"""Rasa's REST channel with strict request validation.

Rasa's own ``RestInput`` trusts the body: non-JSON or wrongly typed fields end
in a 500, and clients may claim any ``input_channel``.  This subclass keeps the
same URL (``/webhooks/rest/webhook``) and answer format but rejects malformed
requests with a 400 and a stable ``reason`` code (Rasa's ``ErrorResponse``
format), before anything reaches the conversation.  Also:

- sender ids are ``rest:<sender>``: a REST client can never speak as a web or
  WeChat conversation;
- with ``SHEBAO_REST_API_KEY`` set (required in production) every request must
  carry ``Authorization: Bearer <key>``, otherwise 401;
- metadata keeps only the allow-listed keys, plus a fingerprint of the client
  address the server saw (:mod:`bot.channels.metadata`);
- a client or conversation over its message rate limit gets a 429 with reason
  ``rate_limited`` and ``Retry-After``, and no turn
  (:mod:`bot.channels.rate_limit`).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.server import ErrorResponse
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.metadata import channel_metadata, client_fingerprint
from bot.channels.rate_limit import ERROR_REASON, MessageRateLimiter, Verdict
from bot.channels.settings import ChannelSettings
from common.text import (
    MAX_MESSAGE_CHARS,
    MAX_SENDER_CHARS,
    is_valid_sender_id,
    strip_control_characters,
)
from common.tokens import same_secret

ALLOWED_FIELDS = frozenset({"sender", "message", "metadata"})


def _bad_request(reason: str, message: str) -> ErrorResponse:
    return ErrorResponse(400, reason, message)


def rate_limited_response(verdict: Verdict) -> HTTPResponse:
    """429 in the shape of the channel's other errors (Rasa's ``ErrorResponse``)."""
    error = ErrorResponse(
        429,
        ERROR_REASON,
        f"Too many messages; try again in {verdict.retry_after} seconds.",
        details={"retry_after": verdict.retry_after},
    )
    return response.json(
        error.error_info,
        status=429,
        headers={"Retry-After": str(verdict.retry_after)},
    )


def validated_body(request: Request) -> Dict[str, Any]:
    """The JSON body, checked field by field; raises ``ErrorResponse`` (400)."""
    try:
        body = request.json
    except Exception as error:  # Sanic raises InvalidUsage for unparsable JSON
        raise _bad_request(
            "malformed_json", "The request body is not valid JSON."
        ) from error
    if not isinstance(body, dict):
        raise _bad_request("malformed_json", "The request body must be a JSON object.")
    unknown = sorted(set(body) - ALLOWED_FIELDS)
    if unknown:
        raise _bad_request("unknown_field", f"Unknown field(s): {', '.join(unknown)}.")
    sender = body.get("sender")
    if not is_valid_sender_id(sender):
        raise _bad_request(
            "invalid_sender",
            f"'sender' must be 1-{MAX_SENDER_CHARS} characters of A-Z a-z 0-9 . _ : @ = + -",
        )
    message = body.get("message", "")
    if not isinstance(message, str):
        raise _bad_request("invalid_message", "'message' must be a string.")
    if len(message) > MAX_MESSAGE_CHARS:
        raise _bad_request(
            "message_too_long",
            f"'message' is longer than {MAX_MESSAGE_CHARS} characters.",
        )
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad_request("invalid_metadata", "'metadata' must be a JSON object.")
    return body


SENDER_PREFIX = "rest:"


class RestInput(RasaRestInput):
    """``POST /webhooks/rest/webhook`` with validated input."""

    def __init__(self) -> None:
        self.settings = ChannelSettings.from_env()
        self.settings.check_rest_for_production()
        self.rate_limiter = MessageRateLimiter.from_env()

    @classmethod
    def name(cls) -> Text:
        """Keeps Rasa's ``rest`` name, so the webhook URL stays
        ``/webhooks/rest/webhook``."""
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[None]]
    ) -> Blueprint:
        """Rasa's REST routes behind an API-key check and input validation."""
        blueprint = super().blueprint(on_new_message)
        expected = self.settings.rest_api_key

        @blueprint.middleware("request")
        async def require_api_key(request: Request) -> Optional[HTTPResponse]:
            if not expected or request.method != "POST":
                return None
            header = request.headers.get("Authorization") or ""
            given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
            if not same_secret(given, expected):
                return response.json(
                    {
                        "status": "failure",
                        "reason": "unauthorized",
                        "message": "Authorization: Bearer <SHEBAO_REST_API_KEY> required",
                    },
                    status=401,
                )
            return None

        limiter = self.rate_limiter
        secret = self.settings.session_secret

        @blueprint.middleware("request")
        async def rate_limit(request: Request) -> Optional[HTTPResponse]:
            # Registered after the key check: only authorised messages count.
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            try:
                sender = validated_body(request)["sender"]
            except ErrorResponse:
                return None  # the handler answers 400 with its reason
            verdict = await limiter.allow(
                self.name(),
                SENDER_PREFIX + sender,
                client_fingerprint(request.remote_addr or request.ip, secret),
            )
            return None if verdict.allowed else rate_limited_response(verdict)

        return blueprint

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        return SENDER_PREFIX + validated_body(req)["sender"]

    def _extract_message(self, req: Request) -> Optional[Text]:
        return strip_control_characters(validated_body(req).get("message", ""))

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        """Only validated metadata plus a keyed client fingerprint, never the raw IP."""
        return channel_metadata(
            validated_body(request).get("metadata"),
            client=client_fingerprint(
                request.remote_addr or request.ip, self.settings.session_secret
            ),
        )
