"""Resident identity numbers (居民身份证号码, GB 11643-1999) and phone masking.

One module so the backend, the Rasa actions, the channels and log redaction
agree on what an ID number is and how it is shown: residents type them with
spaces, full-width digits or a lower-case ``x``, and we only ever display the
masked form (first 6, 8 stars, last 4).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import List, Optional

# ISO 7064 MOD 11-2 weights for the first 17 digits: 2**(17 - i) mod 11.
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
_EARLIEST_BIRTH_YEAR = 1900

ID_NUMBER_LENGTH = 18

# An 18-character candidate in free text: 17 digits and a digit or X, not part
# of a longer digit run ("我的身份证号是11010119900307123X").  Candidates are
# not necessarily valid; check them with ``is_valid_id_number``.
ID_NUMBER_PATTERN = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")

_STRICT_FORM = re.compile(r"[0-9]{17}[0-9X]")
_WHITESPACE = re.compile(r"\s+")


def normalize_id_number(text: str) -> str:
    """Canonical form: full-width characters folded (NFKC), whitespace removed,
    ``x`` upper-cased.  It does not validate."""
    folded = unicodedata.normalize("NFKC", text)
    return _WHITESPACE.sub("", folded).upper()


def id_number_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected exactly 17 ASCII digits")
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True)
    )
    return _CHECK_CHARS[total % 11]


def birth_date_of(id_number: str) -> Optional[date]:
    """The birth date encoded in positions 7-14, or None if it is no real date."""
    digits = id_number[6:14]
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def is_valid_id_number(value: str, today: Optional[date] = None) -> bool:
    """True for an 18-character ID with a real, past birth date and a correct
    check character.  ``value`` must already be normalized (upper-case X)."""
    if not isinstance(value, str) or not _STRICT_FORM.fullmatch(value):
        return False
    born = birth_date_of(value)
    if born is None or born.year < _EARLIEST_BIRTH_YEAR:
        return False
    if born > (today or date.today()):
        return False
    return id_number_check_char(value[:17]) == value[17]


def find_id_numbers(text: str, valid_only: bool = False) -> List[str]:
    """ID-number candidates in free text, normalized, in order of appearance.

    Full-width digits are folded first, so "１１０１..." is found too.
    """
    folded = unicodedata.normalize("NFKC", text)
    found = [match.group(0).upper() for match in ID_NUMBER_PATTERN.finditer(folded)]
    if valid_only:
        found = [candidate for candidate in found if is_valid_id_number(candidate)]
    return found


def mask_id_number(value: str) -> str:
    """``110101********1234``: the region code and last four stay readable so a
    resident can recognise their number; the birth date never shows."""
    value = normalize_id_number(value)
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """``138****1234`` for an 11-digit mobile number (the form SMS notices use)."""
    digits = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", value))
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def make_id_number(prefix6: str, birth_yyyymmdd: str, seq3: str) -> str:
    """Build a valid ID number (demo data and tests): computes the check char."""
    if len(prefix6) != 6 or not prefix6.isdigit():
        raise ValueError("prefix6 must be 6 digits")
    if len(seq3) != 3 or not seq3.isdigit():
        raise ValueError("seq3 must be 3 digits")
    first17 = prefix6 + birth_yyyymmdd + seq3
    if birth_date_of(first17) is None:
        raise ValueError("birth_yyyymmdd must be a real date as YYYYMMDD")
    return first17 + id_number_check_char(first17)
