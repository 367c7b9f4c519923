"""Which year a resident asks about."""

from datetime import date

import pytest

from bot.language.years import mentioned_year

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("show my 2025 records", 2025),
        ("2024年的呢", 2024),
        ("and 2024?", 2024),
        ("今年交了几个月", 2026),
        ("去年的缴费记录", 2025),
        ("what about last year", 2025),
        ("前年呢", 2024),
        ("this year please", 2026),
        ("my id is 11010519491231002X", None),
        ("code 202511", None),
        ("", None),
        (None, None),
    ],
)
def test_mentioned_year(text, expected):
    assert mentioned_year(text, today=TODAY) == expected
