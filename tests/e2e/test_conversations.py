"""Whole conversations in English and Chinese over the REST channel.

The answers must carry the seed's facts in the language the user writes in.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import buttons, texts

pytestmark = pytest.mark.stack
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_greeting_lists_what_the_assistant_does_in_chinese(chat):
    replies = chat("你好")
    assert "社保助手" in texts(replies)
    assert [b["payload"] for b in buttons(replies)][:1] == ["/ask_individual_payment"]


def test_urban_payment_path_in_english(chat):
    reply = texts(chat("How do I pay medical insurance myself?"))
    assert "urban or rural" in reply
    reply = texts(chat("urban"))
    for fact in (
        "ID card",
        "household registration book",
        "unemployment certificate",
        "digital photo receipt",
        "bank passbook",
        "local social insurance agency",
        "amount approved by the agency",
    ):
        assert fact in reply
    assert not CJK.search(reply)


def test_agricultural_payment_path_in_chinese_with_button(chat):
    replies = chat("我想自己交医保，怎么办？")
    assert "城镇户口还是农业户口" in texts(replies)
    payloads = {b["title"]: b["payload"] for b in buttons(replies)}
    reply = texts(chat(payloads["农业户口"]))
    assert "村委会或社区居委会" in reply and "新型农村合作医疗" in reply


def test_residency_in_first_message_and_later_correction_in_chinese(chat):
    reply = texts(chat("我是城镇户口，想自己交医保"))
    assert "身份证、户口本、失业证、数码照片回执、银行存折" in reply
    reply = texts(chat("不对，其实我是农业户口"))
    assert "村委会或社区居委会" in reply


def test_correction_answers_the_question_that_was_asked(chat):
    texts(chat("what documents do I need to bring"))
    assert "ID card" in texts(chat("urban"))
    reply = texts(chat("actually my hukou is agricultural"))
    assert "relevant documents" in reply and "doesn't list specific documents" in reply


def test_document_follow_up_is_honest_about_what_the_seed_does_not_say(chat):
    reply = texts(chat("where do I get an unemployment certificate"))
    assert "12333" in reply and "doesn't say where" in reply
    reply = texts(chat("户口本是什么"))
    assert "户口本" in reply and CJK.search(reply)


def test_interruption_mid_form_then_the_form_continues(chat):
    chat("个人怎么交医保")
    reply = texts(chat("你是机器人吗"))
    assert "机器人" in reply and "城镇户口还是农业户口" in reply
    assert "社保经办机构" in texts(chat("城镇"))


def test_amount_is_not_invented(chat):
    chat("how much do I have to pay")
    reply = texts(chat("agricultural"))
    assert "doesn't state" in reply and "12333" in reply
    assert not re.search(r"\d+\s*(yuan|元|RMB)", reply)


def test_employer_registration_in_both_languages(chat):
    reply = texts(chat("how does a new company register for social insurance"))
    assert "within 30 days" in reply and "within 15 days" in reply
    assert "business licence, registration certificate or unit seal" in reply
    reply = texts(chat("公司注销了社保登记怎么办"))
    assert "三十日内" in reply and "注销" in reply
    reply = texts(chat("出生死亡户口迁移谁通知社保"))
    assert "公安机关" in reply


def test_checking_payments_in_chinese(chat):
    reply = texts(chat("交完医保怎么查询"))
    assert "社会保险网" in reply and "身份证号和密码" in reply


def test_out_of_scope_is_not_answered(chat):
    reply = texts(chat("what's the price of bitcoin today"))
    assert "12333" in reply


def test_request_for_a_human_leaves_a_handoff_marker(chat, tracker):
    assert "12333" in texts(chat("转人工"))
    events = tracker()["events"]
    assert {
        "event": "slot",
        "name": "handoff_requested",
        "value": True,
    }.items() <= next(e for e in events if e.get("name") == "handoff_requested").items()


def test_language_follows_each_message(chat):
    assert CJK.search(texts(chat("你好")))
    assert not CJK.search(texts(chat("thanks")))
    assert CJK.search(texts(chat("谢谢")))


def test_language_switch_payload(chat):
    assert "English" in texts(chat('/set_language{"language":"en"}'))
    assert not CJK.search(texts(chat("/greet")))
