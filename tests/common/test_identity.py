"""Resident ID numbers (GB 11643) and masking."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.identity import (
    ID_NUMBER_PATTERN,
    birth_date_of,
    find_id_numbers,
    id_number_check_char,
    is_valid_id_number,
    make_id_number,
    mask_id_number,
    mask_phone,
    normalize_id_number,
)

# The worked example of GB 11643-1999 and other hand-checked numbers.
VALID = ["11010519491231002X", "110101199003074477", "440106198202020555"]


@pytest.mark.parametrize("id_number", VALID)
def test_known_valid_numbers(id_number: str) -> None:
    assert is_valid_id_number(id_number)


def test_check_character_of_the_standard_example() -> None:
    assert id_number_check_char("11010519491231002") == "X"


@pytest.mark.parametrize(
    "candidate",
    [
        "110105194912310021",  # wrong check character
        "11010519491231002x",  # lower-case: normalize first
        "11010519491231002",  # too short
        "11010519491231002X1",  # too long
        "110105194902300024",  # 30 February
        "110105189912310026",  # born before 1900
        "110105299912310023",  # born in the future
        "11010519491231002Y",
        "１１０１０５１９４９１２３１００２X",  # full-width: normalize first
        "",
    ],
)
def test_invalid_numbers(candidate: str) -> None:
    assert not is_valid_id_number(candidate)


def test_future_birth_date_relative_to_today() -> None:
    id_number = make_id_number("110101", "20300101", "001")
    assert not is_valid_id_number(id_number)
    assert is_valid_id_number(id_number, today=date(2031, 1, 1))


def test_normalize() -> None:
    assert normalize_id_number(" 110105 19491231 002x\n") == "11010519491231002X"
    assert (
        normalize_id_number("１１０１０５１９４９１２３１００２ｘ")
        == "11010519491231002X"
    )
    assert normalize_id_number("110105\u300019491231002X") == "11010519491231002X"


def test_birth_date() -> None:
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert birth_date_of("110105194913310021") is None


def test_find_id_numbers_in_free_text() -> None:
    text = "我的身份证号是11010519491231002x，另一个是110101199003074477。"
    assert find_id_numbers(text) == ["11010519491231002X", "110101199003074477"]
    assert find_id_numbers("my ID: 110105194912310021 (typo)") == ["110105194912310021"]
    assert find_id_numbers("my ID: 110105194912310021", valid_only=True) == []
    assert find_id_numbers("account 1234567890123456789012") == []  # longer digit run
    assert find_id_numbers("身份证１１０１０５１９４９１２３１００２Ｘ") == [
        "11010519491231002X"
    ]
    assert (
        ID_NUMBER_PATTERN.search("id=11010519491231002X;").group(0)
        == "11010519491231002X"
    )


def test_masks() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("11010519491231002x") == "110105********002X"
    assert mask_id_number("123") == "***"
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("138 1234 1234") == "138****1234"
    assert mask_phone("12") == "**"


def test_make_id_number_validates_its_parts() -> None:
    assert make_id_number("110105", "19491231", "002") == "11010519491231002X"
    for args in (
        ("11010", "19491231", "002"),
        ("110105", "19491331", "002"),
        ("110105", "19491231", "02"),
    ):
        with pytest.raises(ValueError):
            make_id_number(*args)


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.integers(110000, 829999),
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    seq=st.integers(0, 999),
    position=st.integers(0, 16),
    delta=st.integers(1, 9),
)
def test_made_numbers_are_valid_and_any_single_digit_error_is_caught(
    prefix: int, born: date, seq: int, position: int, delta: int
) -> None:
    id_number = make_id_number(f"{prefix:06d}", born.strftime("%Y%m%d"), f"{seq:03d}")
    assert is_valid_id_number(id_number)
    assert find_id_numbers(f"号码{id_number}。") == [id_number]
    typo = list(id_number)
    typo[position] = str((int(typo[position]) + delta) % 10)
    assert not is_valid_id_number(
        "".join(typo)
    )  # MOD 11-2 catches every single-digit error
