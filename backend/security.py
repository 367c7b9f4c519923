"""Keyed hashes, bearer tokens and the admin check.

Everything secret or personal that we must look up later (ID numbers in the
verification table, client addresses, one-time codes, access tokens) is stored
as an HMAC-SHA256 under ``BACKEND_SECRET`` with a purpose label, so a database
leak reveals none of them and a hash for one purpose is useless for another.

Access tokens are random (``secrets.token_urlsafe``) and stored hashed rather
than self-contained signed tokens: they can be revoked and expired in one place
and carry no data a client could read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Optional

from sanic import Request

from backend.errors import ApiError
from common.identity import mask_phone
from common.tokens import as_bytes, same_secret

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="shebao"'}
# Real mainland mobile prefixes, for the decoy masked phone of unknown IDs.
_MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "199",
)


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    """Hex HMAC-SHA256 of ``value`` for one ``purpose``."""
    message = as_bytes(f"{purpose}\x00{value}")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


# Six digits that read as a year and month (199001-209912) are periods, which
# redaction must leave visible ("2025-03" paid); codes never look like one, so
# every code a resident types is masked in transcripts.
_PERIOD_LIKE = re.compile(r"(19|20)[0-9]{2}(0[1-9]|1[0-2])")


def new_code() -> str:
    """A random 6-digit one-time code that cannot be mistaken for a period."""
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        if not _PERIOD_LIKE.fullmatch(code):
            return code


def new_token() -> str:
    """A fresh unguessable bearer token."""
    return secrets.token_urlsafe(32)


def decoy_masked_phone(secret: str, id_number: str) -> str:
    """A plausible masked phone for an ID we do not know, stable per ID, so the
    answer for an unknown ID looks like the answer for a known one."""
    digest = int(keyed_hash(secret, "decoy-phone", id_number), 16)
    prefix = _MOBILE_PREFIXES[digest % len(_MOBILE_PREFIXES)]
    last4 = f"{(digest // len(_MOBILE_PREFIXES)) % 10_000:04d}"
    return mask_phone(prefix + "0000" + last4)


def bearer_token(request: Request) -> Optional[str]:
    """The token of an ``Authorization: Bearer ...`` header, if well formed."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def require_bearer(request: Request) -> str:
    """The bearer token, or 401 ``unauthorized``."""
    token = bearer_token(request)
    if token is None:
        raise ApiError(
            401,
            "unauthorized",
            "Send 'Authorization: Bearer <token>'.",
            headers=_BEARER_CHALLENGE,
        )
    return token


def require_admin(request: Request, admin_token: str) -> None:
    """401 without a bearer token, 403 with the wrong one."""
    token = require_bearer(request)
    if not same_secret(token, admin_token):
        raise ApiError(403, "forbidden", "This token may not manage records.")


def invalid_token(code: str, message: str) -> ApiError:
    """A 401 with the bearer challenge header, as RFC 6750 expects."""
    return ApiError(401, code, message, headers=_BEARER_CHALLENGE)
