"""Masking personal data in text and in tracker-like structures."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from common.redaction import redact_text, redact_value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我的身份证号是11010519491231002X", "我的身份证号是110105********002X"),
        (
            "id 110105194912310021 (typo)",
            "id 110105********0021 (typo)",
        ),  # invalid still masked
        ("lower 11010519491231002x", "lower 110105********002X"),
        ("手机13812341234。", "手机138****1234。"),
        ("call +86 138 1234 1234", "call +86 138****1234"),
        ("call +8613812341234", "call +86138****1234"),
        ("138-1234-1234", "138****1234"),
        ("验证码是 654321，五分钟内有效", "验证码是 ******，五分钟内有效"),
        ("code:123456.", "code:******."),
        ("１３８１２３４１２３４", "138****1234"),
        (
            "我的身份证号是11010519491231002X，手机13812341234，验证码 123456",
            "我的身份证号是110105********002X，手机138****1234，验证码 ******",
        ),
    ],
)
def test_masks(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "paid 35.00 yuan for 2025-03",
        "order 1234567",  # 7 digits: not a code
        "12345",  # 5 digits
        "12812341234",  # 12x is not a mobile prefix
        "the hotline is 12333",
        "2025年6月",
    ],
)
def test_leaves_other_numbers_alone(text: str) -> None:
    assert redact_text(text) == text


def test_long_digit_runs_are_masked() -> None:
    # A long account or card number is personal data too (first 6, last 4).
    assert redact_text("1234567890123456789012") == "123456************9012"


def test_masked_id_is_not_masked_again() -> None:
    masked = redact_text("11010519491231002X")
    assert masked == "110105********002X"
    assert redact_text(masked) == masked  # "110105" is followed by '*', not a code


def test_redact_value_walks_tracker_events() -> None:
    event = {
        "event": "user",
        "text": "我的身份证号是11010519491231002X",
        "parse_data": {
            "entities": [
                {
                    "entity": "id_number",
                    "value": "11010519491231002X",
                    "start": 7,
                    "end": 25,
                }
            ],
            "intent": {"name": "inform", "confidence": 0.98},
        },
        "slots": [("phone", "13812341234"), ("code", "654321")],
        "timestamp": 1700000000.5,
        "flag": None,
    }
    redacted = redact_value(event)
    assert redacted["text"] == "我的身份证号是110105********002X"
    assert redacted["parse_data"]["entities"][0]["value"] == "110105********002X"
    assert redacted["parse_data"]["entities"][0]["start"] == 7
    assert redacted["parse_data"]["intent"] == {"name": "inform", "confidence": 0.98}
    assert redacted["slots"] == [("phone", "138****1234"), ("code", "******")]
    assert redacted["timestamp"] == 1700000000.5 and redacted["flag"] is None
    assert (
        event["text"].endswith("002X") and "11010519491231002X" in event["text"]
    )  # not mutated


DIGITISH = st.text(alphabet="0123456789Xx*+- 身份证号码手机１２３", max_size=60)


@settings(max_examples=300, deadline=None)
@given(DIGITISH)
def test_idempotent(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 9), min_size=6, max_size=6),
    st.sampled_from(["", " ", "码", "。"]),
)
def test_no_standalone_six_digit_code_survives(digits: list, around: str) -> None:
    code = "".join(map(str, digits))
    year, month = int(code[:4]), int(code[4:])
    assume(not (1990 <= year <= 2099 and 1 <= month <= 12))  # a period: 202503
    assert code not in redact_text(f"{around}{code}{around}")


def test_the_no_digit_shortcut_sees_every_character_that_folds_to_a_digit() -> None:
    """``redact_text`` returns a text without ``\\d`` unchanged; that is exact.

    A run (the only thing ever masked) starts at a character that folds to an
    ASCII digit; ``\\d`` must match exactly those, for every code point.
    """
    from common.redaction import _ANY_DIGIT, _fold_char

    mismatched = [
        hex(code)
        for code in range(0x110000)
        if bool(_ANY_DIGIT.match(chr(code))) != ("0" <= _fold_char(chr(code)) <= "9")
    ]
    assert mismatched == []


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"])))
@settings(max_examples=300, deadline=None)
def test_texts_without_digits_are_returned_as_they_are(text: str) -> None:
    assert redact_text(text) is text
