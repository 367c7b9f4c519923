"""Cleaning of text that arrives from residents, the same for every channel.

REST, socket.io and WeChat all pass user text through :func:`clean_user_text`
before Rasa sees it, so a message is treated alike whichever way it came.
"""

from __future__ import annotations

import re
import unicodedata

# Longest message any channel accepts; longer ones are refused (REST) or cut.
MAX_MESSAGE_CHARS = 10_000
# Longest sender id / session id a channel accepts.
MAX_SENDER_CHARS = 128
# What an integrator's sender id may contain: it becomes a database key, so no
# control characters, surrogates, NULs or whitespace.
SENDER_ID = re.compile(r"[A-Za-z0-9._:@=+-]{1,%d}" % MAX_SENDER_CHARS)


def is_valid_sender_id(value: object) -> bool:
    """Whether ``value`` may be used as a client-chosen sender id."""
    return isinstance(value, str) and SENDER_ID.fullmatch(value) is not None


def strip_control_characters(text: str) -> str:
    """Drop control and format characters (NUL, bidi overrides, BOM); keep newlines/tabs.

    Full-width spaces and every printable character stay.
    """
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    )


def clean_user_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A resident's message as Rasa should see it: no control characters, at most ``limit``."""
    return strip_control_characters(text)[:limit]
