"""Attacks on the redaction of text and of tracker-like data (common/redaction.py).

Each test types personal data the way a resident (or an attacker) might and
checks that no digit sequence of it survives.
"""

from __future__ import annotations

import json

import pytest

from common.redaction import TOO_DEEP, TOO_LARGE, redact_text, redact_value

ID = "330102199003071230"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize(
    "typed, secret",
    [
        ("身份证 33010219900307123", "19900307"),  # 17 digits
        ("身份证 3301021990030712301", "19900307"),  # 19 digits
        ("33010219900307123×", "19900307"),
        ("33010219900307123Ⅹ", "19900307"),
        ("33010219900307123х", "19900307"),  # Cyrillic kha
        ("3301 0219 9003 0712 30", "19900307"),
        ("330102-19900307-1230", "19900307"),
        ("老身份证 330102900307123", "900307"),  # legacy 15-digit
        ("𝟑𝟑𝟎𝟏𝟎𝟐𝟏𝟗𝟗𝟎𝟎𝟑𝟎𝟕𝟏𝟐𝟑𝟎", "19900307"),
        ("١٣٨١٢٣٤٥٦٧٨", "1234"),
        ("11010519491231002X13812341234", "19491231"),
        ("3301021990030712301381234567", "19900307"),
    ],
)
def test_variant_id_numbers_are_masked(typed: str, secret: str) -> None:
    masked = redact_text(typed)
    assert secret not in _digits(masked)


@pytest.mark.parametrize(
    "typed", ["138.1234.5678", "138 1234 5678", "１３８－１２３４－５６７８"]
)
def test_separated_phone_number_is_masked(typed: str) -> None:
    assert "1234" not in _digits(redact_text(typed))


@pytest.mark.parametrize("typed", ["验证码 123 456", "code 123-456", "１２３４５６"])
def test_spaced_code_is_masked(typed: str) -> None:
    assert _digits(redact_text(typed)) == ""


@pytest.mark.parametrize("text", ["123456.00", "¥1,234.00", "202503", "2025-03"])
def test_money_and_periods_are_not_over_masked(text: str) -> None:
    assert redact_text(text) == text


def test_integer_metadata_is_masked() -> None:
    redacted = redact_value({"metadata": {"id": int(ID), "code": 654321}})
    assert redacted == {"metadata": {"id": "330102********1230", "code": "******"}}


def test_id_number_as_dict_key_is_masked() -> None:
    redacted = redact_value({"metadata": {ID: "x", 13812341234: "y"}})
    assert ID not in json.dumps(redacted)
    assert set(redacted["metadata"]) == {"330102********1230", "138****1234"}


def _nested(depth: int, leaf: object) -> object:
    value = leaf
    for _ in range(depth):
        value = {"a": [value]} if depth % 2 else [value]
    return value


def test_deeply_nested_metadata_does_not_raise() -> None:
    # What a 3.6 KB REST body can carry: metadata nested 600 deep.
    body = '{"sender":"x","message":"hi","metadata":' + "[" * 600 + json.dumps(ID)
    body += "]" * 600 + "}"
    assert len(body) < 4000
    metadata = json.loads(body)["metadata"]
    redacted = redact_value({"event": "user", "metadata": metadata})
    dumped = json.dumps(redacted)
    assert ID not in dumped and TOO_DEEP in dumped


def test_very_deep_metadata_does_not_raise() -> None:
    value: object = ID
    for _ in range(100_000):  # deeper than any recursion limit
        value = [value]
    dumped = json.dumps(redact_value(value))
    assert ID not in dumped and TOO_DEEP in dumped


def test_huge_metadata_is_capped_not_left_raw() -> None:
    value = {"items": [ID] * 50_000}
    redacted = redact_value(value)
    assert ID not in json.dumps(redacted)
    assert TOO_LARGE in redacted["items"]


def test_unwalkable_value_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    import common.redaction as redaction

    def broken(_text: str) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(redaction, "redact_text", broken)
    assert redaction.redact_value({"text": ID}) == redaction.FAILED
