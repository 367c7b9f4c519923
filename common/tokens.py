"""Comparing secrets that arrive in requests.

Header values can hold any bytes (Sanic decodes them with ``surrogateescape``),
so encoding them as plain UTF-8 raises and a forged header would become a 500.
Every comparison of a presented secret goes through :func:`same_secret`:
constant time, and never an exception.
"""

from __future__ import annotations

import hmac


def as_bytes(value: str) -> bytes:
    """``value`` as bytes, lone surrogates included (they can never match a real secret)."""
    return value.encode("utf-8", errors="surrogatepass")


def same_secret(given: str, expected: str) -> bool:
    """Whether ``given`` equals ``expected``, compared in constant time."""
    return hmac.compare_digest(as_bytes(given), as_bytes(expected))
