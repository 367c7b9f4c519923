"""The console over HTTP: a real server on a free port over known conversations."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import pytest

from tests.console.conftest import ADMIN, REVIEWER
from tests.support.console import StaffClient, conversation_ids


@pytest.fixture
def admin(seeded_server) -> StaffClient:
    client = StaffClient(seeded_server.url)
    assert client.login(*ADMIN).status_code == 200
    return client


@pytest.fixture
def reviewer(seeded_server) -> StaffClient:
    client = StaffClient(seeded_server.url)
    assert client.login(*REVIEWER).status_code == 200
    return client


def listed(client: StaffClient, **query: str) -> list:
    response = client.page("/conversations?" + urlencode(query))
    assert response.status_code == 200
    return conversation_ids(response.text)


def test_health_and_the_login_page(seeded_server):
    client = StaffClient(seeded_server.url)
    assert client.page("/health").json() == {"status": "ok"}
    page = client.page("/conversations")
    assert page.url.endswith("/login?next=%2Fconversations")
    assert "csrf_token" in page.text and "Content-Security-Policy" in page.headers


def test_login_sets_a_hardened_session_cookie_and_logout_ends_it(seeded_server):
    client = StaffClient(seeded_server.url)
    client.page("/login")
    response = client.post(
        seeded_server.url + "/login",
        data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": client.csrf},
        allow_redirects=False,
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "console_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Secure" not in cookie  # plain HTTP here
    assert client.page("/conversations").status_code == 200
    client.submit("/logout", {})
    assert "/login" in client.page("/conversations").url


def test_wrong_password_is_refused(seeded_server):
    client = StaffClient(seeded_server.url)
    response = client.login(ADMIN[0], "not the password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text


def test_both_ui_languages_and_the_choice_is_remembered(admin):
    assert "会话" in admin.page("/conversations").text  # 中文 by default
    admin.page("/lang/en?next=/conversations")
    page = admin.page("/conversations")
    assert "Conversations" in page.text and "Last activity" in page.text
    assert '<html lang="en">' in page.text
    assert "Conversation" in admin.page("/dashboard").text
    admin.page("/lang/zh?next=/dashboard")
    assert "自助解决率" in admin.page("/dashboard").text
    # the language link never redirects off the site
    response = admin.get(
        admin.base_url + "/lang/en?next=//evil.example/", allow_redirects=False
    )
    assert response.headers["Location"] == "/"


def test_each_filter(admin):
    assert {s.split(":")[0] for s in listed(admin, channel="wechat")} == {"wechat"}
    assert "wechat:known-verified" in listed(admin, channel="wechat", verified="yes")
    assert "wechat:known-verified" not in listed(admin, verified="no")
    assert "web:known-en" in listed(admin, handoff="yes", language="en")
    assert "rest:known-zh" in listed(admin, fallback="yes", language="zh")
    assert "rest:known-zh" not in listed(admin, fallback="no")
    assert listed(admin, q="这个东西怎么弄") == ["rest:known-zh"]
    assert "rest:old-one" in listed(admin, to=_days_ago(35))
    assert "rest:old-one" not in listed(admin, **{"from": _days_ago(35)})
    assert set(listed(admin, review="reviewed")) <= {"rest:known-zh", "web:known-en"}


def _days_ago(days: int) -> str:
    from console.repository import today_local

    today = today_local()
    return today.fromordinal(today.toordinal() - days).isoformat()


def test_keyset_pages_and_filters_live_in_the_url(admin):
    page = admin.page("/conversations?channel=web&sort=started")
    assert 'rel="next"' in page.text and "cursor=" in page.text
    first = conversation_ids(page.text)
    next_link = (
        page.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    )
    assert "channel=web" in next_link and "sort=started" in next_link
    second = conversation_ids(admin.page(next_link).text)
    assert second and not set(first) & set(second)


def test_transcript_annotations_and_their_audit_entries(admin, reviewer):
    sender = "rest:known-zh"
    page = reviewer.page("/conversation?" + urlencode({"id": sender}))
    assert page.status_code == 200
    text = page.text
    for expected in [
        "这个东西怎么弄",
        "nlu_fallback",
        "0.31",
        "greet",
        "utter_default",
        "抱歉，我没听懂。",
        "ask_materials",
        "language = zh",
        "rest",
    ]:
        assert expected in text
    assert 'class="turn fallback' in text
    event_id = text.split('name="event_id" value="')[1].split('"')[0]
    assert (
        reviewer.submit(
            "/conversation/tags", {"id": sender, "tags": "wrong answer，材料"}
        ).status_code
        == 200
    )
    assert (
        reviewer.submit(
            "/conversation/note", {"id": sender, "note": "needs a better answer"}
        ).status_code
        == 200
    )
    flagged = reviewer.submit(
        "/conversation/flag",
        {"id": sender, "event_id": event_id, "intent": "ask_materials"},
    )
    assert flagged.status_code == 200 and "ask_materials" in flagged.text
    assert (
        reviewer.submit(
            "/conversation/review", {"id": sender, "status": "reviewed"}
        ).status_code
        == 200
    )
    assert sender in listed(reviewer, tag="材料", review="reviewed")
    page = reviewer.page("/conversation?" + urlencode({"id": sender})).text
    assert "needs a better answer" in page and "wrong answer" in page
    # unknown intents and unknown turns are refused
    assert (
        reviewer.submit(
            "/conversation/flag", {"id": sender, "event_id": event_id, "intent": "nope"}
        ).status_code
        == 400
    )
    assert (
        reviewer.submit(
            "/conversation/flag",
            {"id": sender, "event_id": "999999", "intent": "greet"},
        ).status_code
        == 404
    )

    audit = admin.page(
        "/admin/audit?" + urlencode({"staff": "rita", "sender": sender})
    ).text
    for action in [
        "view_transcript",
        "set_tags",
        "add_note",
        "flag_turn",
        "set_review",
    ]:
        assert action in audit
    assert (
        "needs a better answer" not in audit
    )  # the audit names changes, not note text
    nlu = admin.submit("/export/nlu", {})
    assert "- intent: ask_materials" in nlu.text and "这个东西怎么弄" in nlu.text


def test_inbox_relabel_and_dismiss(reviewer):
    page = reviewer.page("/inbox").text
    assert "******" in page
    item = page.split('name="item" value="')[1].split('"')[0]
    assert (
        reviewer.submit(
            "/inbox/relabel", {"item": item, "intent": "inform_number"}
        ).status_code
        == 200
    )
    page = reviewer.page("/inbox").text
    assert f'name="item" value="{item}"' not in page and "inform_number" in page
    other = page.split('name="item" value="')[1].split('"')[0]
    assert reviewer.submit("/inbox/dismiss", {"item": other}).status_code == 200
    assert f'name="item" value="{other}"' not in reviewer.page("/inbox").text


def test_followups_claim_and_close_with_waiting_time(reviewer, admin):
    page = reviewer.page("/followups").text
    assert "web:known-en" in page and 'class="waiting"' in page
    assert (
        reviewer.submit("/followups/claim", {"id": "web:known-en"}).status_code == 200
    )
    assert "rita" in reviewer.page("/followups").text
    assert (
        reviewer.submit(
            "/followups/close", {"id": "web:known-en", "outcome": "called back"}
        ).status_code
        == 200
    )
    assert "web:known-en" not in reviewer.page("/followups").text
    assert "called back" in reviewer.page("/followups?closed=1").text
    audit = admin.page("/admin/audit?action=close_followup").text
    assert "web:known-en" in audit


def test_dashboard_and_its_csv(admin):
    frm, to = _days_ago(45), _days_ago(0)
    page = admin.page(f"/dashboard?from={frm}&to={to}").text
    assert 'id="chart-per-day"' in page and "/static/vendor/chart.umd.js" in page
    assert 'id="total">124<' in page
    per_day = list(
        csv.reader(
            io.StringIO(
                admin.page(f"/dashboard.csv?chart=per_day&from={frm}&to={to}").text
            )
        )
    )
    assert per_day[0] == ["day", "rest", "web", "wechat", "other"]
    assert sum(int(v) for row in per_day[1:] for v in row[1:]) == 124
    intents = list(
        csv.reader(
            io.StringIO(
                admin.page(f"/dashboard.csv?chart=intents&from={frm}&to={to}").text
            )
        )
    )
    assert intents[0] == ["intent", "user_turns"] and len(intents) > 3
    rates = list(
        csv.reader(
            io.StringIO(
                admin.page(f"/dashboard.csv?chart=rates&from={frm}&to={to}").text
            )
        )
    )
    assert rates[1][2] == "124"
    assert admin.page("/static/vendor/chart.umd.js").status_code == 200


def test_admin_manages_staff_and_retention_setting(admin):
    response = admin.submit(
        "/admin/staff",
        {"username": "newbie", "password": "newbie-pass-1", "role": "reviewer"},
    )
    assert response.status_code == 200 and "newbie" in response.text
    assert (
        admin.submit(
            "/admin/staff", {"username": "x", "password": "short", "role": "reviewer"}
        ).status_code
        == 400
    )
    assert (
        StaffClient(admin.base_url).login("newbie", "newbie-pass-1").status_code == 200
    )
    assert admin.submit("/admin/retention", {"days": "365"}).status_code == 200
    assert 'value="365"' in admin.page("/admin/retention").text
    assert admin.submit("/admin/retention", {"days": "0"}).status_code == 400
