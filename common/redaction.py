"""Mask personal data in text before it is logged or stored.

Used for logs, tracker events and error reports.  It errs on the side of
masking: every 17-digit + [0-9X] run is treated as an ID number whether or not
its checksum is valid, because a mistyped ID number is still personal data.

Rules, applied in this order (each later rule ignores what earlier ones masked):

1. ID-number candidates  -> ``110101********1234`` (``mask_id_number``)
2. mainland mobile numbers (``1[3-9]`` + 9 digits, optionally ``+86``/spaced
   3-4-4) that are not part of a longer digit run -> ``138****1234``
3. standalone 6-digit runs (one-time codes) -> ``******``

The masked forms contain ``*`` and the lookarounds exclude digits *and* ``*``,
so a masked ID's first six digits are not re-masked and
``redact_text(redact_text(x)) == redact_text(x)``.
"""

from __future__ import annotations

import re
from typing import Any, Match

from common.identity import mask_id_number, mask_phone

# ASCII and full-width digits: IMEs often produce the latter.
_D = "0-9\uff10-\uff19"
_X = "Xx\uff38\uff58"

_ID_CANDIDATE = re.compile(rf"(?<![{_D}])[{_D}]{{17}}[{_D}{_X}](?![{_D}])")
_MOBILE = re.compile(
    rf"(?<![{_D}*])(?P<prefix>(?:[+\uff0b]|00)?[8\uff18][6\uff16][ -]?)?"
    rf"(?P<number>[1１][3-9３-９][{_D}](?:[ -]?[{_D}]{{4}}){{2}})(?![{_D}*])"
)
_SIX_DIGITS = re.compile(rf"(?<![{_D}*])[{_D}]{{6}}(?![{_D}*])")


def _mask_mobile(match: Match[str]) -> str:
    return (match.group("prefix") or "") + mask_phone(match.group("number"))


def redact_text(text: str) -> str:
    """``text`` with ID numbers, mobile numbers and 6-digit codes masked."""
    text = _ID_CANDIDATE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _MOBILE.sub(_mask_mobile, text)
    return _SIX_DIGITS.sub("******", text)


def redact_value(value: Any) -> Any:
    """Redact every string inside dicts, lists and tuples (keys are kept).

    Meant for JSON-like data such as Rasa tracker events: user text, slot
    values, entities and parse data.  Other values are returned unchanged.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item) for item in value)
    return value
