"""EmployerEventGuard: a company set up asks about registration, one changed or
closed about change or cancellation."""

from __future__ import annotations

import pytest

from bot.nlu.components import EmployerEventGuard, employer_event
from tests.support.nlu_messages import ranked

REG, CHANGE = "ask_employer_registration", "ask_employer_change"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("先不查了，公司成立了要怎么办社保登记？", REG),
        ("we just opened a bakery, how do we register for social insurance", REG),
        ("my company is closing down at the end of this month, what now", CHANGE),
        ("公司改名了，社保登记要变更吗", CHANGE),
        # Both named: a story told in order, the event named last is asked about.
        ("公司成立五年了，现在要改名", CHANGE),
        ("we set up a studio in 2022 and moved to a new office this spring", CHANGE),
        ("老厂子注销了，现在新成立了一家公司", REG),
        # an event taken back does not count
        ("搞错了，我们是要关闭，不是刚成立", CHANGE),
        ("it's not a new company, it is being wound up", CHANGE),
        ("公司没有注销，是刚成立的", REG),
        ("how long does the agency take to issue the certificate", None),
        ("其他材料还有什么", None),
    ],
)
def test_employer_event(text, expected):
    assert employer_event(text) == expected


def test_a_set_up_company_read_as_change_becomes_registration():
    message = ranked(
        "先不查了，公司成立了要怎么办社保登记？", [(CHANGE, 0.56), (REG, 0.44)]
    )
    out = EmployerEventGuard().process([message])[0]
    assert out.get("intent") == {"name": REG, "confidence": 0.56}
    assert [r["name"] for r in out.get("intent_ranking")] == [REG, CHANGE]


def test_a_close_call_between_the_two_is_decided_by_the_event():
    message = ranked(
        "Hi, my company is closing down. What do we do about the registration?",
        [("nlu_ambiguous", 0.5), (REG, 0.5), (CHANGE, 0.45)],
    )
    out = EmployerEventGuard().process([message])[0]
    assert out.get("intent")["name"] == CHANGE


@pytest.mark.parametrize(
    "ranking",
    [
        [("ask_agency_notification", 0.7), (REG, 0.2)],
        [("nlu_ambiguous", 0.5), ("ask_materials", 0.5), (REG, 0.45)],
    ],
)
def test_other_topics_are_left_alone(ranking):
    message = ranked("新公司成立了，市场监管部门会通知社保吗", ranking)
    out = EmployerEventGuard().process([message])[0]
    assert out.get("intent")["name"] == ranking[0][0]


def test_the_notification_question_without_informing_is_the_event_topic():
    message = ranked(
        "no sorry I meant when the company shuts down",
        [("ask_agency_notification", 0.5), (CHANGE, 0.3), (REG, 0.2)],
    )
    out = EmployerEventGuard().process([message])[0]
    assert out.get("intent")["name"] == CHANGE


@pytest.mark.parametrize(
    "text",
    [
        "公司注销了，工商会通知社保吗",
        "when a company closes, who tells the agency?",
        "公司开了张，社保那边怎么得知",
        # a person's hukou move is only informed of, never registered
        "户口迁走了，社保那边会自动更新吗",
    ],
)
def test_the_notification_question_naming_informing_is_kept(text):
    message = ranked(text, [("ask_agency_notification", 0.8), (CHANGE, 0.2)])
    out = EmployerEventGuard().process([message])[0]
    assert out.get("intent")["name"] == "ask_agency_notification"
