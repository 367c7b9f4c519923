"""Which year a resident asks about: "2024", "2024年", "this year", "去年"."""

from __future__ import annotations

import re
from datetime import date
from typing import Optional

# A year on its own, never a run of digits inside an ID number or a code.
_YEAR = re.compile(r"(?<![0-9])(19[5-9][0-9]|20[0-9]{2})(?![0-9])")
_RELATIVE = (
    (re.compile(r"前年|the year before last", re.IGNORECASE), -2),
    (re.compile(r"去年|last year|previous year", re.IGNORECASE), -1),
    (re.compile(r"今年|本年|this year|current year", re.IGNORECASE), 0),
)


def mentioned_year(text: Optional[str], today: Optional[date] = None) -> Optional[int]:
    """The year the text names, absolute or relative to ``today``; else ``None``."""
    if not text:
        return None
    match = _YEAR.search(text)
    if match:
        return int(match.group(1))
    current = (today or date.today()).year
    for pattern, offset in _RELATIVE:
        if pattern.search(text):
            return current + offset
    return None
