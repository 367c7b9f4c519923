"""The console on the running assistant: real conversations over REST, then HTTP.

The stack (``tools/devstack.py``) starts the console as one of its services on
the same tracker store Rasa writes; these tests talk to Rasa as residents do,
wait for the console's summarizer, and drive the console as staff.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List
from urllib.parse import urlencode

import pytest
import requests

from backend.demo import DEMO_ID_NUMBER
from console.db import make_engine
from console.demo import insert_events, user_event
from tests.support.console import StaffClient, conversation_ids, create_staff, run_cli
from tests.support.ids import random_tag
from tests.support.stack import latest_code
from tools.devstack import DEMO_CONSOLE_PASSWORD, DEMO_CONSOLE_USER, Stack

pytestmark = pytest.mark.stack
REPO_ROOT = Path(__file__).resolve().parents[2]
REVIEWER = ("stack-reviewer", "stack-reviewer-pw")


def say(stack: Stack, sender: str, text: str) -> List[Dict]:
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def talked(stack: Stack) -> Iterator[Dict[str, str]]:
    """Four real conversations: Chinese guidance, a handoff, a fallback, a verified inquiry."""
    tag = random_tag(8)
    senders = {
        "zh": f"cz-{tag}",
        "handoff": f"ch-{tag}",
        "fallback": f"cf-{tag}",
        "verified": f"cv-{tag}",
    }
    say(stack, senders["zh"], "我想自己交医保，怎么办？")
    say(stack, senders["zh"], "城镇户口")
    say(stack, senders["handoff"], "I want to talk to a person")
    say(stack, senders["fallback"], "🙂🙂🙂")
    say(stack, senders["verified"], "which months of 2025 have I paid?")
    say(stack, senders["verified"], DEMO_ID_NUMBER)
    code = latest_code(stack, DEMO_ID_NUMBER)
    replies = say(stack, senders["verified"], code)
    assert replies, "no answer to the code"
    create_staff(stack.env, *REVIEWER)
    yield {**{k: f"rest:{v}" for k, v in senders.items()}, "code": code}


@pytest.fixture
def staff_client(stack: Stack, talked) -> StaffClient:
    client = StaffClient(stack.console_url)
    assert client.login(*REVIEWER).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = conversation_ids(client.page("/conversations?channel=rest").text)
        if all(talked[k] in listed for k in ("zh", "handoff", "fallback", "verified")):
            return client
        time.sleep(0.5)
    raise AssertionError("the console never listed the conversations")


def listed(client: StaffClient, **query: str) -> List[str]:
    return conversation_ids(client.page("/conversations?" + urlencode(query)).text)


def test_the_development_demo_account_logs_in(stack: Stack):
    client = StaffClient(stack.console_url)
    assert client.login(DEMO_CONSOLE_USER, DEMO_CONSOLE_PASSWORD).status_code == 200
    assert client.page("/admin/audit").status_code == 200


def test_filters_find_the_real_conversations(staff_client, talked):
    assert talked["verified"] in listed(staff_client, verified="yes", channel="rest")
    assert talked["zh"] not in listed(staff_client, verified="yes")
    assert talked["handoff"] in listed(staff_client, handoff="yes", language="en")
    assert talked["zh"] in listed(staff_client, language="zh", handoff="no")
    assert talked["fallback"] in listed(staff_client, fallback="yes")
    assert talked["zh"] in listed(staff_client, q="城镇户口")
    assert talked["zh"] not in listed(staff_client, channel="wechat")
    followups = staff_client.page("/followups").text
    assert talked["handoff"] in followups


def test_the_transcript_shows_only_masked_secrets(staff_client, talked):
    page = staff_client.page("/conversation?" + urlencode({"id": talked["verified"]}))
    assert page.status_code == 200
    text = page.text
    assert DEMO_ID_NUMBER not in text and talked["code"] not in text
    assert DEMO_ID_NUMBER[:6] + "********" + DEMO_ID_NUMBER[-4:] in text
    assert "******" in text
    assert "query_my_contributions" in text and "contribution_inquiry_form" in text
    assert "inquiry_outcome" in text
    for sender in (talked["zh"], talked["handoff"], talked["fallback"]):
        assert (
            DEMO_ID_NUMBER
            not in staff_client.page("/conversation?" + urlencode({"id": sender})).text
        )
    handoff = staff_client.page(
        "/conversation?" + urlencode({"id": talked["handoff"]})
    ).text
    assert (
        'class="turn ' in handoff
        and "handoff" in handoff
        and "request_human" in handoff
    )
    fallback = staff_client.page(
        "/conversation?" + urlencode({"id": talked["fallback"]})
    ).text
    assert "nlu_fallback" in fallback and "turn fallback" in fallback


def test_exports_pass_rasa_data_validate(stack: Stack, staff_client, talked, tmp_path):
    page = staff_client.page("/conversation?" + urlencode({"id": talked["zh"]})).text
    event_id = page.split('name="event_id" value="')[1].split('"')[0]
    staff_client.submit(
        "/conversation/flag",
        {"id": talked["zh"], "event_id": event_id, "intent": "ask_individual_payment"},
    )
    staff_client.page("/conversations")
    stories = staff_client.submit(
        "/export/stories",
        {"id": [talked[k] for k in ("zh", "handoff", "fallback", "verified")]},
    )
    assert (
        stories.status_code == 200
        and "attachment" in stories.headers["Content-Disposition"]
    )
    assert stories.text.count("- story:") == 4 and "user:" in stories.text
    assert DEMO_ID_NUMBER not in stories.text and talked["code"] not in stories.text
    nlu = staff_client.submit("/export/nlu", {})
    assert "- intent: ask_individual_payment" in nlu.text

    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data", data)
    (data / "reviewed_stories.yml").write_text(stories.text, encoding="utf-8")
    (data / "corrected_nlu.yml").write_text(nlu.text, encoding="utf-8")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("rasa")),
            "data",
            "validate",
            "--domain",
            str(REPO_ROOT / "domain.yml"),
            "--data",
            str(data),
            "--config",
            str(REPO_ROOT / "config.yml"),
        ],
        cwd=tmp_path,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_retention_deletes_old_conversations_from_the_tracker_store(
    stack: Stack, staff_client, talked
):
    old = f"rest:old-{random_tag(8)}"
    engine = make_engine(stack.env["SHEBAO_TRACKER_URL"], own=False)
    insert_events(
        engine,
        old,
        [user_event("an old question", "greet", 0.9, time.time() - 90 * 86400)],
    )
    deadline = time.monotonic() + 20
    while (
        old not in listed(staff_client, q="an old question")
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert old in listed(staff_client, q="an old question")

    result = run_cli(stack.env, "retention", "--days", "60")
    assert result.returncode == 0, result.stderr
    assert "1 conversations" in result.stdout and "1 events" in result.stdout
    with engine.connect() as connection:
        from sqlalchemy import text

        left = connection.execute(
            text("SELECT COUNT(*) FROM events WHERE sender_id = :s"), {"s": old}
        ).scalar()
        kept = connection.execute(
            text("SELECT COUNT(*) FROM events WHERE sender_id = :s"),
            {"s": talked["zh"]},
        ).scalar()
    engine.dispose()
    assert left == 0 and kept > 0
    assert old not in listed(staff_client, q="an old question")
    assert talked["zh"] in listed(staff_client, q="城镇户口")
