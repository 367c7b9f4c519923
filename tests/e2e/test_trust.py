"""What residents are told before giving an ID number, and when they ask for a person."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import buttons, texts
from tools.devstack import Stack

pytestmark = pytest.mark.stack


@pytest.mark.parametrize(
    "question, notice, link, decline",
    [
        (
            "which months of 2025 have I paid?",
            "About your ID number",
            "[Privacy notice](/privacy)",
            "I'd rather check another way",
        ),
        (
            "我2025年交了哪几个月",
            "关于身份证号",
            "[隐私说明](/privacy)",
            "我想用其他方式查询",
        ),
    ],
)
def test_the_privacy_notice_comes_before_the_first_id_request(
    chat, question, notice, link, decline
):
    replies = chat(question)
    text = texts(replies)
    assert notice in text and link in text
    assert text.index(notice) < text.index("18")  # the notice, then the request
    assert {"title": decline, "payload": "/ask_check_payment"} in buttons(replies)


def test_declining_leads_to_the_self_service_ways_and_ends_the_check(chat):
    chat("which months of 2025 have I paid?")
    answer = texts(chat("/ask_check_payment"))
    assert "service outlet" in answer and "website" in answer
    # the check is over: a plain thank-you is not taken as an ID attempt
    assert "18-character" not in texts(chat("thanks"))


@pytest.mark.parametrize(
    "ask, promised",
    [
        (
            "I want to talk to a real person",
            [
                "follow-up queue",
                "during service hours",
                "12333",
                "cannot connect you to a person live",
            ],
        ),
        ("转人工", ["待处理队列", "在工作时间内", "12333", "不能直接接通人工客服"]),
    ],
)
def test_the_handoff_answer_says_what_really_happens(chat, ask, promised):
    answer = texts(chat(ask))
    for phrase in promised:
        assert phrase in answer, (phrase, answer)


def test_the_demo_server_serves_the_privacy_notice(stack: Stack):
    response = requests.get(f"{stack.web_url}/privacy", timeout=10)
    assert response.status_code == 200
    assert (
        "SHEBAO_PRIVACY_URL" in response.text and "110101********1234" in response.text
    )
