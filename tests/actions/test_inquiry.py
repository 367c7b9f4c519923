"""The inquiry actions against a real backend on a local port (no mocks).

The action server's code runs in-process here with a ``Tracker`` and a
``CollectingDispatcher``; the backend is the real Sanic app with a database.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import actions.inquiry as inquiry
from actions.config import settings
from actions.identity_sessions import SESSIONS
from actions.inquiry import (
    ActionFetchContributions,
    ValidateContributionInquiryForm,
    find_id_number,
)
from actions.inquiry_answers import month_list
from common.identity import mask_id_number
from tests.support.backend import Backend, sqlite_only, unique_id_number, wrong_code
from tests.support.ids import sender_id
from tools.devstack import free_port

# Tests with a backend run it on SQLite; the backend's own tests cover PostgreSQL.


@pytest.fixture
def use_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the action server's backend client at a URL (as its env would)."""

    def _use(url: str) -> None:
        monkeypatch.setenv("SHEBAO_BACKEND_URL", url)
        monkeypatch.setattr(inquiry, "_client", None)
        settings.cache_clear()

    yield _use


@pytest.fixture
def resident(backend: Backend, use_backend) -> str:
    use_backend(backend.url)
    id_number = unique_id_number()
    backend.create_person(id_number, phone="13912345678")
    for month in range(1, 4):
        backend.pay(id_number, f"2024-{month:02d}")
    return id_number


def tracker_for(sender_id: str, slots: Dict[str, Any] = None) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": slots or {},
            "latest_message": {"text": "", "intent": {}, "entities": []},
            "events": [],
            "active_loop": {"name": "contribution_inquiry_form"},
        }
    )


@pytest.fixture
def sender() -> str:
    return sender_id("t", 10)


@sqlite_only
async def test_full_verification_and_fetch(
    backend: Backend, resident: str, sender: str, domain
):
    form = ValidateContributionInquiryForm()
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(sender)
    slots = await form.validate_id_number(
        f"我的身份证号是{resident}", dispatcher, tracker, domain
    )
    assert slots == {
        "id_number": mask_id_number(resident),
        "id_number_problem": None,
        "masked_phone": "139****5678",
        "code_problem": None,
        # the backend's code lifetime and the assistant's limit, quoted by the answers
        "code_valid_minutes": "5",
        "max_wrong_codes": "3",
    }
    assert resident not in str(slots)
    code = backend.outbox_codes(resident)[-1]
    slots = await form.validate_verification_code(
        f"验证码 {code}", dispatcher, tracker, domain
    )
    assert slots == {"verification_code": "******", "code_problem": None}
    assert (
        await form.required_slots(inquiry.FORM_SLOTS, dispatcher, tracker, domain) == []
    )

    events = await ActionFetchContributions().run(
        dispatcher, tracker_for(sender, {"inquiry_year": "2024"}), domain
    )
    assert (
        SlotSet("id_number", None) in events
        and SlotSet("verification_code", None) in events
    )
    values = {e["name"]: e["value"] for e in events}
    assert values["inquiry_outcome"] == "in_arrears"
    assert values["paid_months"] == "January–March 2024"
    assert values["paid_count"] == "3"
    assert values["total_paid"] == "105.00"
    assert values["arrears_count"] == "9"
    assert values["arrears_months"] == "April–December 2024"
    assert values["last_payment"] == "March 2024, ¥35.00 (paid on 15 March 2024)"
    assert dispatcher.messages == []


@sqlite_only
@pytest.mark.parametrize(
    "text, problem",
    [
        ("12345", "format"),
        ("no number here", "unwilling"),
        ("I don't want to give my ID number", "unwilling"),
        ("11010519491231002Y", "format"),
    ],
)
async def test_id_number_without_a_number_is_a_format_problem(
    resident, sender, domain, text, problem
):
    slots = await ValidateContributionInquiryForm().validate_id_number(
        text, CollectingDispatcher(), tracker_for(sender), domain
    )
    assert slots == {"id_number": None, "id_number_problem": problem}


@sqlite_only
async def test_id_number_typo_is_a_checksum_problem(resident, sender, domain):
    typo = resident[:-1] + ("0" if resident[-1] != "0" else "1")
    slots = await ValidateContributionInquiryForm().validate_id_number(
        typo, CollectingDispatcher(), tracker_for(sender), domain
    )
    assert slots == {"id_number": None, "id_number_problem": "checksum"}


@sqlite_only
async def test_three_wrong_codes_end_the_inquiry(
    backend: Backend, resident, sender, domain
):
    form = ValidateContributionInquiryForm()
    dispatcher, tracker = CollectingDispatcher(), tracker_for(sender)
    await form.validate_id_number(resident, dispatcher, tracker, domain)
    code = backend.outbox_codes(resident)[-1]
    for _attempt in range(2):
        slots = await form.validate_verification_code(
            wrong_code(code), dispatcher, tracker, domain
        )
        assert slots == {"verification_code": None, "code_problem": "wrong"}
    slots = await form.validate_verification_code(
        wrong_code(code), dispatcher, tracker, domain
    )
    assert slots == {
        "verification_code": None,
        "code_problem": None,
        "id_number_problem": None,
        "inquiry_failure": "too_many_attempts",
    }
    tracker.slots.update(slots)  # as rasa-sdk applies them before asking required_slots
    assert (
        await form.required_slots(inquiry.FORM_SLOTS, dispatcher, tracker, domain) == []
    )
    events = await ActionFetchContributions().run(dispatcher, tracker, domain)
    assert SlotSet("inquiry_outcome", "too_many_attempts") in events
    assert SlotSet("inquiry_failure", None) in events
    # the stop is for this inquiry only: the next one asks again
    tracker.slots.update({e["name"]: e["value"] for e in events})
    assert (
        await form.required_slots(inquiry.FORM_SLOTS, dispatcher, tracker, domain)
        == inquiry.FORM_SLOTS
    )


@sqlite_only
async def test_code_without_six_digits_is_asked_again(resident, sender, domain):
    form = ValidateContributionInquiryForm()
    dispatcher, tracker = CollectingDispatcher(), tracker_for(sender)
    await form.validate_id_number(resident, dispatcher, tracker, domain)
    slots = await form.validate_verification_code("abc", dispatcher, tracker, domain)
    assert slots == {"verification_code": None, "code_problem": "format"}


async def test_unreachable_backend_ends_the_inquiry_politely(
    use_backend, sender, domain
):
    use_backend(f"http://127.0.0.1:{free_port()}")
    form = ValidateContributionInquiryForm()
    dispatcher, tracker = CollectingDispatcher(), tracker_for(sender)
    slots = await form.validate_id_number(
        unique_id_number(), dispatcher, tracker, domain
    )
    assert slots == {
        "id_number": None,
        "id_number_problem": None,
        "code_problem": None,
        "inquiry_failure": "unavailable",
    }
    tracker.slots.update(slots)
    assert (
        await form.required_slots(inquiry.FORM_SLOTS, dispatcher, tracker, domain) == []
    )
    events = await ActionFetchContributions().run(dispatcher, tracker, domain)
    assert SlotSet("inquiry_outcome", "unavailable") in events


@pytest.mark.parametrize("year", ["1985", "twenty", "3000"])
async def test_a_year_the_backend_refuses_gets_an_answer_not_a_crash(
    sender, domain, year
):
    SESSIONS.verified(sender, "some-token", ttl=60, client=sender)
    events = await ActionFetchContributions().run(
        CollectingDispatcher(), tracker_for(sender, {"inquiry_year": year}), domain
    )
    assert SlotSet("inquiry_outcome", "unsupported_year") in events


async def test_fetch_without_verification_asks_to_verify_again(sender, domain):
    SESSIONS.forget_token(sender)
    events = await ActionFetchContributions().run(
        CollectingDispatcher(), tracker_for(sender), domain
    )
    assert SlotSet("inquiry_outcome", "verification_expired") in events


def test_find_id_number_accepts_full_width_digits_and_lower_x():
    assert (
        find_id_number("号码：１１０１０５１９４９１２３１００２ｘ")
        == "11010519491231002X"
    )
    assert find_id_number("11010519491231002x") == "11010519491231002X"
    assert find_id_number("110105 1949 1231 002X") is None


@pytest.mark.parametrize(
    "periods, language, expected",
    [
        ([], "en", "none"),
        ([], "zh", "无"),
        (["2025-01"], "en", "January 2025"),
        (["2025-01"], "zh", "2025年1月"),
        (
            ["2025-03", "2025-01", "2025-02", "2025-05"],
            "en",
            "January–March 2025, May 2025",
        ),
        (
            ["2025-03", "2025-01", "2025-02", "2025-05"],
            "zh",
            "2025年1月至3月、2025年5月",
        ),
        (["2024-12", "2025-01"], "en", "December 2024–January 2025"),
        (["2024-12", "2025-01"], "zh", "2024年12月至2025年1月"),
        ([f"2025-{m:02d}" for m in range(1, 7)], "zh", "2025年1月至6月"),
    ],
)
def test_month_list(periods, language, expected):
    assert month_list(periods, language) == expected
