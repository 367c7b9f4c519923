"""Passwords, lock-out and session expiry, on a real SQLite database."""

from __future__ import annotations

import pytest

from console import security
from console.models import staff


def test_passwords_are_stored_as_argon2id_hashes(console_db):
    member = console_db.run_sync(
        lambda c: security.create_staff(c, "Alice", "correct horse battery", "admin")
    )
    assert member.username == "alice" and member.is_admin
    stored = console_db.run_sync(
        lambda c: c.execute(staff.select()).first().password_hash
    )
    assert stored.startswith("$argon2id$") and "correct" not in stored


@pytest.mark.parametrize(
    "name, password, role",
    [
        ("", "long enough pw", "reviewer"),
        ("a b", "long enough pw", "reviewer"),
        ("bob", "short", "reviewer"),
        ("bob", "long enough pw", "root"),
    ],
)
def test_bad_accounts_are_refused(console_db, name, password, role):
    with pytest.raises(security.StaffError):
        console_db.run_sync(lambda c: security.create_staff(c, name, password, role))


def _login(db, name, password, now):
    return db.run_sync(lambda c: security.authenticate(c, name, password, 5, 900, now))


def test_five_failures_lock_the_name_for_fifteen_minutes(console_db):
    console_db.run_sync(
        lambda c: security.create_staff(c, "bob", "bob-password-1", "reviewer")
    )
    assert _login(console_db, "bob", "bob-password-1", 1000.0).staff is not None
    for attempt in range(4):
        result = _login(console_db, "bob", "wrong", 1000.0 + attempt)
        assert result.staff is None and not result.locked
    assert _login(console_db, "bob", "wrong", 1005.0).locked
    # locked: even the right password is refused, until 15 minutes have passed
    assert _login(console_db, "bob", "bob-password-1", 1005.0 + 899).locked
    assert _login(console_db, "BOB", "bob-password-1", 1005.0 + 901).staff is not None


def test_unknown_names_lock_too_so_lockout_reveals_no_accounts(console_db):
    for attempt in range(5):
        result = _login(console_db, "nobody", "x", 10.0 + attempt)
    assert result.locked


def test_sessions_expire_after_idle_time_and_on_logout(console_db):
    member = console_db.run_sync(
        lambda c: security.create_staff(c, "carol", "carol-password", "reviewer")
    )
    token = console_db.run_sync(lambda c: security.open_session(c, member, 0.0))
    live = console_db.run_sync(lambda c: security.load_session(c, token, 1800, 1799.0))
    assert live is not None and live.staff.username == "carol"
    # touched at 1799: still alive 1800 s later, gone after more
    assert console_db.run_sync(lambda c: security.load_session(c, token, 1800, 3598.0))
    assert (
        console_db.run_sync(lambda c: security.load_session(c, token, 1800, 9999.0))
        is None
    )
    token = console_db.run_sync(lambda c: security.open_session(c, member, 0.0))
    info = console_db.run_sync(lambda c: security.load_session(c, token, 1800, 1.0))
    console_db.run_sync(lambda c: security.close_session(c, info.token_hash))
    assert (
        console_db.run_sync(lambda c: security.load_session(c, token, 1800, 2.0))
        is None
    )


def test_a_password_reset_ends_the_accounts_sessions(console_db):
    member = console_db.run_sync(
        lambda c: security.create_staff(c, "dave", "dave-password", "reviewer")
    )
    token = console_db.run_sync(lambda c: security.open_session(c, member, 0.0))
    console_db.run_sync(
        lambda c: security.create_staff(c, "dave", "new-password!", "reviewer")
    )
    assert (
        console_db.run_sync(lambda c: security.load_session(c, token, 1800, 1.0))
        is None
    )


def test_csrf_tokens_compare_exactly():
    token = security.pre_login_csrf("secret", "nonce")
    assert security.tokens_match(token, token)
    assert not security.tokens_match(token, None)
    assert not security.tokens_match(token, token[:-1] + "0")
    assert security.pre_login_csrf("other", "nonce") != token
