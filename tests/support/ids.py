"""Random ids for test conversations that can never look like personal data.

The transcript store replaces a sender id that the redactor would touch
(a run of digits reads as a code or a phone number) by a keyed hash, so a
test that looks its conversation up by the plain id must not use digits:
``uuid4().hex`` contains a six-digit run in about one id of twenty.
"""

from __future__ import annotations

import secrets
import string

_LETTERS = string.ascii_lowercase


def random_tag(length: int = 12) -> str:
    """``length`` random lowercase letters (56 bits of randomness at 12)."""
    return "".join(secrets.choice(_LETTERS) for _ in range(length))


def sender_id(prefix: str, length: int = 12) -> str:
    """``<prefix>-<letters>``: a sender id stored verbatim by the tracker store."""
    return f"{prefix}-{random_tag(length)}"
