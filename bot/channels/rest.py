"""Rasa's REST channel with strict request validation.

Rasa's own ``RestInput`` trusts the body: non-JSON or wrongly typed fields end
in a 500, and clients may claim any ``input_channel``.  This subclass keeps the
same URL (``/webhooks/rest/webhook``) and answer format but rejects malformed
requests with a 400 and a stable ``reason`` code (Rasa's ``ErrorResponse``
format), before anything reaches the conversation.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.server import ErrorResponse
from sanic.request import Request

from common.text import MAX_MESSAGE_CHARS, MAX_SENDER_CHARS, strip_control_characters

ALLOWED_FIELDS = frozenset({"sender", "message", "metadata"})


def _bad_request(reason: str, message: str) -> ErrorResponse:
    return ErrorResponse(400, reason, message)


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
    if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS:
        raise _bad_request(
            "invalid_sender",
            f"'sender' must be a string of 1-{MAX_SENDER_CHARS} characters.",
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


class RestInput(RasaRestInput):
    """``POST /webhooks/rest/webhook`` with validated input."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        return validated_body(req)["sender"]

    def _extract_message(self, req: Request) -> Optional[Text]:
        return strip_control_characters(validated_body(req).get("message", ""))

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        return validated_body(request).get("metadata")
