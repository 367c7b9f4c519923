"""``/verification``: one-time codes for residents, exchanged for a token."""

from __future__ import annotations

from typing import Tuple

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend.errors import ApiError
from backend.schemas import VERIFICATION_CHECK_IN, VERIFICATION_START_IN, parse_body

CLIENT_KEY_HEADER = "X-Client-Key"
MAX_CLIENT_KEY = 200


def client_identity(request: Request, trusted: Tuple[str, ...]) -> str:
    """Whom the per-client rate limit counts.

    Residents reach us through the action server, so the peer address is the
    same for all of them; a trusted peer (the action server) names the
    conversation in ``X-Client-Key`` instead.  Anyone else is counted by
    address (behind a proxy, configure Sanic's PROXIES_COUNT), and a key
    they send is ignored.
    """
    address = request.remote_addr or request.ip or "unknown"
    key = request.headers.get(CLIENT_KEY_HEADER, "").strip()
    if len(key) > MAX_CLIENT_KEY:
        raise ApiError(
            400,
            "invalid_field",
            f"Header '{CLIENT_KEY_HEADER}' is longer than {MAX_CLIENT_KEY}.",
            field=CLIENT_KEY_HEADER,
        )
    if key and address in trusted:
        return f"key:{key}"
    return f"addr:{address}"


def verification_blueprint() -> Blueprint:
    bp = Blueprint("verification")

    @bp.post("/verification/start")
    async def start(request: Request) -> HTTPResponse:
        body = parse_body(request.body, VERIFICATION_START_IN)
        service = request.app.ctx.verification
        client = client_identity(request, request.app.ctx.settings.trusted_clients)
        result = await service.start(body["id_number"].upper(), client)
        return json(result)

    @bp.post("/verification/check")
    async def check(request: Request) -> HTTPResponse:
        body = parse_body(request.body, VERIFICATION_CHECK_IN)
        service = request.app.ctx.verification
        return json(await service.check(body["id_number"].upper(), body["code"]))

    return bp
