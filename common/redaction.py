"""Mask personal data in text before it is logged or stored.

Used for logs, tracker events and error reports.  It errs on the side of
masking, because a mistyped ID number is still personal data.  The same rules
are implemented in JavaScript for the web widget (``web/widget/redact.js``);
``tests/common/redaction_vectors.json`` is run through both.

How it works:

1. Every character is *folded* one-to-one (so the text keeps its length):
   any Unicode decimal digit (full-width ``１``, mathematical ``𝟑``,
   Arabic-Indic ``٣``, ...) becomes its ASCII digit, look-alikes of X
   (``×``, ``Ⅹ``, Cyrillic ``х``, ``ｘ``, ...) become ``X``, whitespace
   becomes a space, dashes ``-`` and dots ``.``.
2. A *run* is digits joined by single light separators (space, ``-``, ``.``),
   e.g. ``330102-19900307-1230`` or ``138.1234.5678``, plus a trailing X
   after at least 14 digits.  Runs are classified on their digits:

   - a decimal number (one ``.`` and 1-2 digits after it, e.g. ``123456.00``)
     is left alone;
   - ``86``/``0086`` + a mobile number -> ``+86 138****1234`` (prefix kept);
   - 15 or more digits (ID numbers of 15, 17, 18 or 19 characters, ID and
     phone run together, bank cards) -> first 6, stars, last 4;
   - a mainland mobile number (``1[3-9]`` + 9 digits) -> ``138****1234``;
   - 6 digits (a one-time code, also ``123 456``) -> ``******``, unless it
     is a period (``202503``, ``2025-03``: year 1990-2099 and a month),
     money (``¥123456``, ``123456元``) or next to a ``*`` (already masked);
   - otherwise the longest runs of whole groups inside it are tried the
     same way (``5-13812341234`` -> ``5-138****1234``).

Masked output never forms a new maskable run, so
``redact_text(redact_text(x)) == redact_text(x)``.  A text without any
decimal digit has no run and is returned as it is, without folding (most of
a tracker event's strings: intent, action and entity names).

:func:`redact_value` walks JSON-like data iteratively, masks strings, dict
keys and integers, and is fail-closed: whatever lies deeper than
:data:`MAX_DEPTH` or beyond :data:`MAX_NODES` items is replaced by a marker,
and it never raises.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, List, Optional, Tuple

from common.identity import mask_id_number, mask_phone

MAX_DEPTH = 32
MAX_NODES = 20_000
MAX_TEXT = 200_000

TOO_DEEP = "[redacted: too deep]"
TOO_LARGE = "[redacted: too large]"
FAILED = "[redacted: failed]"

_X_LOOKALIKES = frozenset("Xx\uff38\uff58\u00d7\u2169\u2179\u0425\u0445\u03a7\u03c7")
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\ufe63")
_DOTS = frozenset(".\uff0e\u00b7\u30fb")
_SEPARATORS = frozenset(" -.")
_CURRENCY_BEFORE = frozenset("¥￥$")
_MONEY_AFTER = ("元", "块", "yuan", "rmb", "cny")
_MAX_GROUPS = 16
# ``\d`` of a str pattern is exactly the characters unicodedata.decimal()
# knows, i.e. those _fold_char turns into an ASCII digit (checked for every
# code point in tests/common/test_redaction.py)
_ANY_DIGIT = re.compile(r"\d")


def _fold_char(char: str) -> str:
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    if char in _X_LOOKALIKES:
        return "X"
    if char.isspace():
        return " "
    if char in _DASHES:
        return "-"
    if char in _DOTS:
        return "."
    return char


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_mobile(digits: str) -> bool:
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def _is_period(digits: str, groups: List[str]) -> bool:
    if len(groups) > 1 and [len(g) for g in groups] != [4, 2]:
        return False
    year, month = int(digits[:4]), int(digits[4:])
    return 1990 <= year <= 2099 and 1 <= month <= 12


def _money_context(folded: str, start: int, end: int) -> bool:
    before = folded[:start].rstrip()
    if before and before[-1] in _CURRENCY_BEFORE:
        return True
    after = folded[end:].lstrip().lower()
    return after.startswith(_MONEY_AFTER)


def _classify(
    folded: str, start: int, end: int, groups: List[str], seps: List[str]
) -> Optional[str]:
    """The replacement for ``folded[start:end]`` (a run), or None if no rule
    applies; an unchanged span is returned for a decimal number or a period."""
    digits = "".join(groups)
    x = digits.endswith("X")
    n = len(digits) - (1 if x else 0)
    if seps.count(".") == 1 and seps[-1] == "." and len(groups[-1]) <= 2 and not x:
        if n - len(groups[-1]) <= 10:
            return folded[start:end]  # 123456.00, 1234.5
    if not x:
        for prefix in ("86", "0086"):
            rest = digits[len(prefix) :]
            if digits.startswith(prefix) and _is_mobile(rest):
                cut, seen = start, 0
                while seen < len(prefix):  # keep "86" and a separator after it
                    seen += _is_digit(folded[cut])
                    cut += 1
                if folded[cut] in _SEPARATORS:
                    cut += 1
                return folded[start:cut] + mask_phone(rest)
    if n >= 15:
        return mask_id_number(digits)
    if x:
        return None
    if _is_mobile(digits):
        return mask_phone(digits)
    if n == 6:
        if _is_period(digits, groups) or _money_context(folded, start, end):
            return folded[start:end]
        before = folded[start - 1] if start > 0 else ""
        after = folded[end] if end < len(folded) else ""
        if "*" in (before, after):
            return folded[start:end]
        return "******"
    return None


def _redact_run(original: str, folded: str, start: int, end: int) -> str:
    groups: List[str] = []
    seps: List[str] = []
    bounds: List[Tuple[int, int]] = []
    i = start
    while i < end:
        j = i
        while j < end and folded[j] not in _SEPARATORS:
            j += 1
        groups.append(folded[i:j])
        bounds.append((i, j))
        if j < end:
            seps.append(folded[j])
        i = j + 1
    whole = _classify(folded, start, end, groups, seps)
    if whole is not None:
        return original[start:end] if whole == folded[start:end] else whole
    if len(groups) == 1 or len(groups) > _MAX_GROUPS:
        return original[start:end]
    # The longest runs of whole groups inside it, left to right.
    out: List[str] = []
    a = 0
    while a < len(groups):
        for b in range(len(groups), a, -1):
            if (a, b) == (0, len(groups)):
                continue
            s, e = bounds[a][0], bounds[b - 1][1]
            found = _classify(folded, s, e, groups[a:b], seps[a : b - 1])
            if found is not None:
                out.append(original[s:e] if found == folded[s:e] else found)
                break
        else:
            b = a + 1
            out.append(original[bounds[a][0] : bounds[a][1]])
        if b < len(groups):
            out.append(original[bounds[b - 1][1]])  # the separator
        a = b
    return "".join(out)


def redact_text(text: str) -> str:
    """``text`` with ID numbers, mobile numbers and 6-digit codes masked."""
    if _ANY_DIGIT.search(text) is None:
        return text  # no digit, no run: every character is kept
    folded = "".join(_fold_char(char) for char in text)
    out: List[str] = []
    i, length = 0, len(text)
    while i < length:
        if not _is_digit(folded[i]):
            out.append(text[i])
            i += 1
            continue
        j, digit_count = i, 0
        while j < length:
            if _is_digit(folded[j]):
                j += 1
                digit_count += 1
            elif (
                folded[j] in _SEPARATORS and j + 1 < length and _is_digit(folded[j + 1])
            ):
                j += 1
            else:
                break
        if j < length and folded[j] == "X" and digit_count >= 14:
            j += 1
        out.append(_redact_run(text, folded, i, j))
        i = j
    return "".join(out)


def _redact_scalar(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            return TOO_LARGE
        return redact_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**40 else "0" * 40
        masked = redact_text(text)
        return value if masked == text else masked
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 100_000:
            masked = _redact_scalar(int(value))
            return value if isinstance(masked, int) else masked
        return value
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value[:MAX_TEXT]).decode("utf-8", "replace")
        masked = redact_text(text)
        return value if masked == text and len(value) <= MAX_TEXT else masked
    return value


def _redact_tree(value: Any) -> Any:
    """Iterative walk (no recursion), so depth is bounded only by MAX_DEPTH."""
    budget = MAX_NODES
    containers = (dict, list, tuple, set, frozenset)
    # Sequences are filled as lists; tuples are rebuilt at the end, deepest
    # first (they were opened last), from (parent, key, tuple-or-list).
    rebuild: List[Tuple[Any, Any, bool]] = []
    holder: List[Any] = [None]
    stack: List[Tuple[Any, Any, Any, int]] = [(value, holder, 0, 0)]
    if not isinstance(value, containers):
        return _redact_scalar(value)
    while stack:
        source, parent, slot, depth = stack.pop()
        budget -= 1
        if budget < 0:
            parent[slot] = TOO_LARGE
            continue
        if not isinstance(source, containers):
            parent[slot] = _redact_scalar(source)
            continue
        if depth >= MAX_DEPTH:
            parent[slot] = TOO_DEEP
            continue
        if isinstance(source, dict):
            result: Any = {}
            parent[slot] = result
            for key, item in source.items():
                new_key = _redact_scalar(key)
                if isinstance(new_key, (bytes, bytearray)):
                    new_key = redact_text(new_key.decode("utf-8", "replace"))
                while new_key in result:
                    new_key = f"{new_key}~"
                result[new_key] = None
                stack.append((item, result, new_key, depth + 1))
        else:
            items = list(source)
            result = [None] * len(items)
            parent[slot] = result
            if isinstance(source, tuple):
                rebuild.append((parent, slot, True))
            elif not isinstance(source, list):
                rebuild.append((parent, slot, False))
            for index, item in enumerate(items):
                stack.append((item, result, index, depth + 1))
    for parent, slot, as_tuple in reversed(rebuild):
        parent[slot] = tuple(parent[slot]) if as_tuple else parent[slot]
    return holder[0]


def redact_value(value: Any) -> Any:
    """Redact every string, dict key and integer inside dicts, lists and tuples.

    Meant for JSON-like data such as Rasa tracker events: user text, slot
    values, entities, parse data and metadata.  Floats, booleans and None
    are kept.  The input is not mutated.  Never raises: containers deeper
    than :data:`MAX_DEPTH` become :data:`TOO_DEEP`, items past
    :data:`MAX_NODES` become :data:`TOO_LARGE`, and if anything else goes
    wrong the whole value becomes :data:`FAILED`.
    """
    try:
        return _redact_tree(value)
    except Exception:  # fail closed: never hand back what we could not redact
        return FAILED
