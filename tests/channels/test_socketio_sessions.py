"""Server-issued web session ids: only ours, only recent, never an exception."""

from __future__ import annotations

import pytest

from bot.channels.socketio import issue_session_id, valid_session_id

SECRET = "0123456789abcdef0123456789abcdef"
DAY = 24 * 3600


def test_an_issued_id_is_valid_until_it_is_too_old() -> None:
    session_id = issue_session_id(SECRET, now=1_000_000)
    assert (
        valid_session_id(session_id, SECRET, DAY, now=1_000_000 + DAY - 1) == session_id
    )
    assert valid_session_id(session_id, SECRET, DAY, now=1_000_000 + DAY + 1) is None
    assert (
        valid_session_id(session_id, SECRET, DAY, now=1_000_000 - 60) is None
    )  # from the future


def test_ids_are_not_guessable_or_forgeable() -> None:
    first, second = issue_session_id(SECRET), issue_session_id(SECRET)
    assert first != second
    forged = first[:-1] + ("0" if first[-1] != "0" else "1")
    assert valid_session_id(forged, SECRET, DAY) is None
    assert valid_session_id(first, "another-secret-another-secret-0000", DAY) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        7,
        {"a": 1},
        "",
        "me-victim-session-0001",
        "\ud800" * 64,
        "G" * 64,
        "a" * 65,
    ],
)
def test_anything_else_is_refused_quietly(value: object) -> None:
    assert valid_session_id(value, SECRET, DAY) is None
