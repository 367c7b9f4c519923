"""Verified contribution inquiries, end to end: Rasa, actions, backend, tracker store.

Each test registers its own insured person through the backend's admin API, so
the expected months and amounts are known exactly; the code comes from the
backend's development outbox, as a resident would read it from the SMS.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Dict, Iterator

import pytest

from common.identity import mask_id_number
from tests.e2e.conftest import texts
from tests.support.stack import latest_code, register_resident
from tools.devstack import Stack

pytestmark = pytest.mark.stack
PHONE = "13712345678"


@pytest.fixture
def person(stack: Stack) -> Dict[str, str]:
    """An urban resident enrolled since 2024-01 at ¥350/month, paid 2024 and 2025-01..06."""
    return {"id_number": register_resident(stack, phone=PHONE)}


def wrong_code(code: str) -> str:
    return "%06d" % ((int(code) + 1) % 1_000_000)


def test_verified_inquiry_in_english_then_a_follow_up_year(stack, chat, person):
    reply = texts(chat("which months of 2025 have I paid?"))
    assert "18-digit resident ID number" in reply
    reply = texts(chat(person["id_number"]))
    assert "137****5678" in reply and "6-digit" in reply
    reply = texts(chat(latest_code(stack, person["id_number"])))
    assert "**2025**" in reply
    assert "January–June 2025 (6 months)" in reply
    assert "¥2,100.00" in reply
    assert "Owed: 6 months (July–December 2025), ¥2,100.00" in reply
    assert "June 2025, ¥350.00 (paid on 15 June 2025)" in reply

    reply = texts(chat("and 2024?"))  # no second verification
    assert "**2024**" in reply and "January–December 2024 (12 months)" in reply
    assert "¥4,200.00" in reply and "nothing for 2024" in reply


def test_verified_inquiry_in_chinese(stack, chat, person):
    assert "身份证号码" in texts(chat("帮我查一下我2025年交了哪几个月"))
    assert "137****5678" in texts(chat(f"我的身份证号是{person['id_number']}"))
    reply = texts(chat(f"验证码 {latest_code(stack, person['id_number'])}"))
    assert "2025年" in reply and "共6个月" in reply and "欠费：6个月" in reply


def test_how_much_do_i_owe_after_a_year_totals_every_year(stack, chat, person):
    """Enrolled 2024-01, paid 2024 and 2025-01..06: 2025 owes six months, and
    every month of the backend's current year up to now is owed too."""
    chat("我2024年交了哪几个月")
    chat(person["id_number"])
    reply = texts(chat(latest_code(stack, person["id_number"])))
    assert "2024年1月至12月" in reply and "2024年无欠费" in reply
    reply = texts(chat("我还欠多少钱"))
    assert "所有年份合计欠费" in reply
    assert "**欠费：6个月（2025年7月至12月），共¥2,100.00**" in reply
    assert "2025年" in reply.split("所有年份合计欠费")[1]
    assert "2025-" not in reply and "2024-" not in reply


def test_a_year_before_enrolment_is_not_owed(stack, chat, person):
    chat("what did I pay in 2023?")
    chat(person["id_number"])
    reply = texts(chat(latest_code(stack, person["id_number"])))
    assert "not enrolled in 2023" in reply and "January 2024" in reply


def test_an_id_number_as_first_message_sends_the_code(stack, chat, person):
    reply = texts(chat(f"我的身份证号是{person['id_number']}"))
    assert "137****5678" in reply


def test_id_number_typo_gets_an_explanation_and_another_try(stack, chat, person):
    chat("how much do I owe")
    good = person["id_number"]
    typo = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert "doesn't check out" in texts(chat(typo))
    assert "couldn't find an 18-character ID number" in texts(chat("12345"))
    assert "137****5678" in texts(chat(good))


def test_three_wrong_codes_stop_the_check(stack, chat, person):
    chat("did my payment go through")
    chat(person["id_number"])
    code = latest_code(stack, person["id_number"])
    assert "isn't right" in texts(chat(wrong_code(code)))
    assert "isn't right" in texts(chat(wrong_code(wrong_code(code))))
    reply = texts(chat(wrong_code(wrong_code(wrong_code(code)))))
    assert "3 wrong codes" in reply and "12333" in reply
    # the conversation goes on normally
    assert "village committee" in texts(
        chat("I'm agricultural, how do I pay medical insurance myself")
    )


def test_cancel_at_the_code_question(stack, chat, person):
    chat("show my 2025 records")
    chat(person["id_number"])
    assert "stopped" in texts(chat("cancel"))
    assert "Hello" in texts(chat("hello"))


@pytest.fixture
def paused_backend(stack: Stack) -> Iterator[None]:
    """The backend process frozen: requests hang, as with an overloaded server."""
    pid = stack.service("backend").process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_slow_or_unreachable_backend_gets_the_alternatives(
    chat, person, paused_backend
):
    chat("which months have I paid this year")
    reply = texts(chat(person["id_number"]))
    assert "unavailable right now" in reply
    assert "service outlet" in reply and "12333" in reply
    assert "employer" in texts(chat("what can you do")).lower()


def stored_events(stack: Stack, sender_id: str):
    db = Path(stack.env["SHEBAO_TRACKER_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ?", (f"rest:{sender_id}",)
        ).fetchall()
    return [row[0] for row in rows]


def test_stored_transcript_keeps_no_secrets(stack, chat, tracker, sender_id, person):
    id_number = person["id_number"]
    chat("which months of 2025 have I paid?")
    chat(f"my id number is {id_number}, phone {PHONE}")
    code = latest_code(stack, id_number)
    assert "January–June 2025" in texts(chat(code))

    rows = stored_events(stack, sender_id)
    assert len(rows) > 10
    stored = "\n".join(rows)
    for secret in (id_number, code, PHONE, id_number[6:14]):
        assert secret not in stored, f"{secret!r} was stored"
    assert mask_id_number(id_number) in stored
    assert "******" in stored and "137****5678" in stored
    # what Rasa's HTTP API shows is read from the same store
    api_dump = json.dumps(tracker(), ensure_ascii=False)
    for secret in (id_number, code, PHONE):
        assert secret not in api_dump
    # and no service wrote them to its log
    for log in stack.log_dir.glob("*.log"):
        content = log.read_text(encoding="utf-8", errors="replace")
        for secret in (id_number, code, PHONE):
            assert secret not in content, f"{secret!r} in {log.name}"


def test_questions_in_the_middle_of_the_inquiry_are_answered(stack, chat, person):
    assert "18-digit" in texts(chat("how much do I owe"))
    reply = texts(chat("what do I need to bring"))
    assert "village committee" in reply and "ID card" in reply  # both paths
    assert "18-digit" in reply and "couldn't find" not in reply  # then the form
    reply = texts(chat("I don't want to give my ID number"))
    assert "couldn't find" not in reply and "12333" in reply
    assert "137****5678" in texts(chat(person["id_number"]))


def test_how_do_i_check_myself_leaves_the_inquiry(stack, chat, person):
    assert "身份证号码" in texts(chat("帮我查一下我2025年交了哪几个月"))
    reply = texts(chat("算了不查了，我自己怎么查？"))
    assert "社保中心服务网点" in reply and "身份证号码" not in reply
    assert "身份证号码" not in texts(chat("你好"))


def test_bye_in_the_inquiry_ends_it_once(stack, chat, person):
    chat("which months of 2025 have I paid?")
    replies = chat("bye")
    assert len(replies) == 1 and "Goodbye" in texts(replies)
