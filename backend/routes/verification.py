"""``/verification``: one-time codes for residents, exchanged for a token."""

from __future__ import annotations

import logging

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend.errors import ApiError
from backend.metrics import VERIFICATION_FAILURES, VERIFICATION_STARTS
from backend.schemas import VERIFICATION_CHECK_IN, VERIFICATION_START_IN, parse_body
from common.tokens import same_secret

logger = logging.getLogger(__name__)

CLIENT_KEY_HEADER = "X-Client-Key"
CLIENT_SECRET_HEADER = "X-Shebao-Client-Secret"
MAX_CLIENT_KEY = 200


def is_trusted_client(request: Request, client_secret: str) -> bool:
    """True when the caller proved it is the action server (BACKEND_CLIENT_SECRET)."""
    offered = request.headers.get(CLIENT_SECRET_HEADER)
    if offered is None:
        return False
    if same_secret(offered, client_secret):
        return True
    # Never log the value: a misconfigured action server would leak its secret.
    logger.warning("ignoring a wrong %s header", CLIENT_SECRET_HEADER)
    return False


def client_identity(request: Request, client_secret: str) -> str:
    """Whom the per-client rate limit counts.

    Residents reach us through the action server, so the peer address is the
    same for all of them; the action server proves itself with the shared
    secret (``X-Shebao-Client-Secret``) and then names a server-side identity
    of the resident in ``X-Client-Key``.  Anyone else is counted by address
    (behind a proxy, configure Sanic's PROXIES_COUNT), and a key they send is
    ignored: an attacker could pick a fresh one for every request.
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
    if key and is_trusted_client(request, client_secret):
        return f"key:{key}"
    return f"addr:{address}"


def verification_blueprint() -> Blueprint:
    """The SMS code flow that turns an ID number into a short-lived bearer token."""
    bp = Blueprint("verification")

    @bp.post("/verification/start")
    async def start(request: Request) -> HTTPResponse:
        body = parse_body(request.body, VERIFICATION_START_IN)
        service = request.app.ctx.verification
        client = client_identity(request, request.app.ctx.settings.client_secret)
        try:
            result = await service.start(body["id_number"], client)
        except ApiError as exc:
            VERIFICATION_STARTS.labels(outcome=exc.code).inc()
            raise
        VERIFICATION_STARTS.labels(outcome="issued").inc()
        return json(result)

    @bp.post("/verification/check")
    async def check(request: Request) -> HTTPResponse:
        body = parse_body(request.body, VERIFICATION_CHECK_IN)
        service = request.app.ctx.verification
        try:
            result = await service.check(body["id_number"], body["code"])
        except ApiError as exc:
            VERIFICATION_FAILURES.labels(error=exc.code).inc()
            raise
        return json(result)

    return bp
