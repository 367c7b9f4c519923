"""Attacks on the staff review console (issue "Review console for support staff").

A real console on a free port over known conversations (no model needed):
forged and missing CSRF tokens, password guessing, a reviewer on admin pages,
session fixation, and reading a transcript without logging in.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests

from tests.console.conftest import ADMIN, REVIEWER, seeded_server  # noqa: F401
from tests.support.console import StaffClient, create_staff

TRANSCRIPT = "/conversation?" + urlencode({"id": "wechat:known-verified"})


@pytest.fixture
def reviewer(seeded_server) -> StaffClient:  # noqa: F811
    client = StaffClient(seeded_server.url)
    assert client.login(*REVIEWER).status_code == 200
    return client


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_posts_without_the_right_csrf_token_are_rejected(reviewer, token):
    data = {"id": "rest:known-zh", "tags": "planted"}
    if token is not None:
        data["csrf_token"] = token
    response = reviewer.post(
        reviewer.base_url + "/conversation/tags", data=data, timeout=10
    )
    assert response.status_code == 403
    assert "planted" not in reviewer.page("/conversation?id=rest%3Aknown-zh").text
    for path, body in [
        ("/logout", {}),
        ("/export/nlu", {}),
        ("/followups/claim", {"id": "web:known-en"}),
    ]:
        assert (
            reviewer.post(reviewer.base_url + path, data=body, timeout=10).status_code
            == 403
        )
    assert reviewer.page("/conversations").status_code == 200  # still logged in


def test_another_sessions_csrf_token_does_not_work(seeded_server, reviewer):  # noqa: F811
    other = StaffClient(seeded_server.url)
    other.login(*ADMIN)
    response = reviewer.post(
        reviewer.base_url + "/conversation/review",
        data={"id": "rest:known-zh", "status": "reviewed", "csrf_token": other.csrf},
        timeout=10,
    )
    assert response.status_code == 403


def test_login_needs_its_csrf_token_too(seeded_server):  # noqa: F811
    # a cross-site login form (login CSRF) has no pre-login cookie and token
    response = requests.post(
        seeded_server.url + "/login",
        data={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=10,
    )
    assert response.status_code == 403


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(seeded_server):  # noqa: F811
    create_staff(seeded_server.env, "victim", "victim-password-1")
    attacker = StaffClient(seeded_server.url)
    for _ in range(4):
        assert attacker.login("victim", "guess").status_code == 401
    locked = attacker.login("victim", "guess")
    assert locked.status_code == 401 and "锁定 15 分钟" in locked.text
    # now even the owner with the right password is refused
    owner = StaffClient(seeded_server.url)
    refused = owner.login("victim", "victim-password-1")
    assert refused.status_code == 401 and "锁定" in refused.text
    assert "/login" in owner.page("/conversations").url


def test_a_reviewer_gets_403_on_every_admin_page(reviewer):
    for path in ["/admin/audit", "/admin/staff", "/admin/retention"]:
        assert reviewer.page(path).status_code == 403
    for path, body in [
        (
            "/admin/staff",
            {"username": "mallory", "password": "mallory-pass-1", "role": "admin"},
        ),
        ("/admin/retention", {"days": "1"}),
        ("/admin/retention/run", {}),
    ]:
        assert reviewer.submit(path, body).status_code == 403
    assert (
        StaffClient(reviewer.base_url).login("mallory", "mallory-pass-1").status_code
        == 401
    )


def test_session_fixation_a_planted_cookie_never_becomes_a_session(seeded_server):  # noqa: F811
    planted = "attacker-chosen-session-value-0123456789abcdef"
    victim = StaffClient(seeded_server.url)
    victim.cookies.set("console_session", planted, domain="127.0.0.1", path="/")
    assert victim.login(*REVIEWER).status_code == 200
    assert victim.cookies.get("console_session") != planted
    attacker = StaffClient(seeded_server.url)
    attacker.cookies.set("console_session", planted, domain="127.0.0.1", path="/")
    assert "/login" in attacker.page(TRANSCRIPT).url
    # and a session that existed before login is replaced, not kept
    before = victim.cookies.get("console_session")
    victim.login(*REVIEWER)
    assert victim.cookies.get("console_session") != before
    stale = StaffClient(seeded_server.url)
    stale.cookies.set("console_session", before, domain="127.0.0.1", path="/")
    assert "/login" in stale.page("/conversations").url


def test_transcripts_and_exports_are_not_readable_logged_out(seeded_server):  # noqa: F811
    response = requests.get(
        seeded_server.url + TRANSCRIPT, timeout=10, allow_redirects=False
    )
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/login"
    )
    followed = requests.get(seeded_server.url + TRANSCRIPT, timeout=10)
    assert (
        "110101" not in followed.text and "query_my_contributions" not in followed.text
    )
    for path in [
        "/conversations",
        "/dashboard.csv",
        "/inbox",
        "/followups",
        "/admin/audit",
    ]:
        assert (
            requests.get(
                seeded_server.url + path, timeout=10, allow_redirects=False
            ).status_code
            == 302
        )
    anonymous = StaffClient(seeded_server.url)
    anonymous.page("/login")  # has a pre-login CSRF token, but no session
    assert (
        anonymous.submit("/export/stories", {"id": "wechat:known-verified"}).status_code
        == 401
    )


def test_pages_carry_a_strict_content_security_policy(reviewer):
    headers = reviewer.page("/conversations").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert (
        headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    )


def test_stored_text_is_escaped_not_executed(seeded_server, reviewer):  # noqa: F811
    reviewer.page("/conversation?id=rest%3Aknown-zh")
    reviewer.submit(
        "/conversation/note",
        {"id": "rest:known-zh", "note": "<script>alert(1)</script>"},
    )
    page = reviewer.page("/conversation?id=rest%3Aknown-zh").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_cookies_are_secure_behind_a_tls_proxy():
    """With CONSOLE_PROXIES_COUNT=1, X-Forwarded-Proto: https makes cookies Secure."""
    from tests.support.console import ConsoleServer, temp_folder

    server = ConsoleServer.in_folder(
        temp_folder("console-tls-"), CONSOLE_PROXIES_COUNT="1"
    )
    create_staff(server.env, "tls-user", "tls-user-password")
    server.start()
    try:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        page = requests.get(server.url + "/login", headers=headers, timeout=10)
        assert "Secure" in page.headers["Set-Cookie"]
        # a client only returns a Secure cookie over HTTPS: hand it back as the
        # browser behind the TLS proxy would
        nonce = (
            page.cookies.get("console_prelogin")
            or page.headers["Set-Cookie"].split("console_prelogin=")[1].split(";")[0]
        )
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = requests.post(
            server.url + "/login",
            data={
                "username": "tls-user",
                "password": "tls-user-password",
                "csrf_token": token,
            },
            headers={**headers, "Cookie": f"console_prelogin={nonce}"},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302
        session_cookie = [
            c
            for c in response.raw.headers.getlist("Set-Cookie")
            if c.startswith("console_session=")
        ]
        assert (
            session_cookie
            and "Secure" in session_cookie[0]
            and "HttpOnly" in session_cookie[0]
        )
    finally:
        server.stop()


def test_the_console_stays_on_loopback_when_the_chat_is_published(
    tmp_path, monkeypatch
):
    from tools.devstack import build_stack
    from tools.settings import StackSettings

    monkeypatch.delenv("CONSOLE_HOST", raising=False)
    stack = build_stack(
        StackSettings(tmp_path, "0.0.0.0", 1, 2, 3, 4, tmp_path / "models", 5),
        with_web=False,
    )
    assert stack.service("console").env["CONSOLE_HOST"] == "127.0.0.1"
    assert stack.console_url == "http://127.0.0.1:5"


def test_development_mode_is_refused_on_a_public_interface(tmp_path):
    from common.env import ConfigError
    from console.app import create_app
    from console.settings import ConsoleSettings

    settings = ConsoleSettings.from_env(
        {
            "SHEBAO_ENV": "development",
            "CONSOLE_HOST": "0.0.0.0",
            "SHEBAO_VAR_DIR": str(tmp_path),
        }
    )
    with pytest.raises(ConfigError, match="CONSOLE_HOST"):
        create_app(settings)
