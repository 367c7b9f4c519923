"""How records answers are worded and which years they cover.

The wording functions are pure (built ``ContributionSummary`` values); the
year selection and the all-years answer run against the real backend, whose
clock stands at 2025-06-15 (tests/support/backend.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional, Tuple

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.inquiry as inquiry
from actions.backend_client import (
    Arrears,
    Contribution,
    ContributionSummary,
    Enrollment,
)
from actions.config import settings
from actions.identity_sessions import SESSIONS
from actions.inquiry import (
    ActionFetchContributions,
    ActionResetInquiry,
    ValidateContributionInquiryForm,
    asked_year,
)
from actions.inquiry_answers import (
    month_name,
    overview_slots,
    payment_text,
    summary_slots,
)
from common.identity import mask_id_number
from tests.support.backend import Backend, sqlite_only, unique_id_number
from tests.support.ids import sender_id

DEC_2026 = date(2026, 12, 1)


def _months(year: int, first: int, last: int) -> List[str]:
    return [f"{year}-{m:02d}" for m in range(first, last + 1)]


def summary(
    year: int,
    paid: Iterable[str] = (),
    owed: Iterable[str] = (),
    pending: Iterable[str] = (),
    refunded: Iterable[str] = (),
    since: date = date(2024, 1, 1),
    status: str = "active",
    last: Optional[str] = None,
) -> ContributionSummary:
    """A summary as the backend would return it (owed includes pending/refunded)."""

    def record(period: str, state: str) -> Contribution:
        y, m = map(int, period.split("-"))
        return Contribution(period, Decimal("35.00"), date(y, m, 15), "wechat", state)

    records: List[Contribution] = sorted(
        [record(p, "paid") for p in paid]
        + [record(p, "pending") for p in pending]
        + [record(p, "refunded") for p in refunded],
        key=lambda c: c.period,
    )
    owed_all: Tuple[str, ...] = tuple(sorted([*owed, *pending, *refunded]))
    paid_records = [c for c in records if c.status == "paid"]
    return ContributionSummary(
        masked_id_number="330102********1230",
        name="王小明",
        residency_type="urban",
        region="上城区",
        enrollment=Enrollment(
            "urban_resident_medical", status, since, Decimal("35.00")
        ),
        year=year,
        contributions=tuple(records),
        total_paid=sum((c.amount for c in paid_records), Decimal(0)),
        arrears=Arrears(owed_all, Decimal("35.00") * len(owed_all)),
        last_payment=record(last, "paid") if last else None,
    )


# The demo resident (backend/demo.py): enrolled January 2024, 2024 paid, 2025
# paid January to June; in December 2026 the backend counts all of 2026 as owed.
DEMO_YEARS = [
    summary(2024, paid=_months(2024, 1, 12), last="2025-06"),
    summary(2025, paid=_months(2025, 1, 6), owed=_months(2025, 7, 12), last="2025-06"),
    summary(2026, owed=_months(2026, 1, 12), last="2025-06"),
]


def test_month_and_payment_wording():
    assert month_name("2025-06") == "June 2025"
    assert month_name("2025-06", "zh") == "2025年6月"
    payment = Contribution(
        "2025-06", Decimal("35"), date(2025, 6, 15), "wechat", "paid"
    )
    assert payment_text(payment) == "June 2025, ¥35.00 (paid on 15 June 2025)"
    assert payment_text(payment, "zh") == "2025年6月，¥35.00（2025年6月15日缴纳）"
    assert payment_text(None) == "none" and payment_text(None, "zh") == "无"


def test_one_year_in_chinese_uses_chinese_months_and_no_iso_ranges():
    slots = summary_slots(DEMO_YEARS[1], "zh", today=DEC_2026)
    assert slots["inquiry_outcome"] == "in_arrears"
    assert slots["paid_months"] == "2025年1月至6月"
    assert slots["arrears_months"] == "2025年7月至12月"
    assert slots["arrears_amount"] == "210.00"
    assert slots["last_payment"] == "2025年6月，¥35.00（2025年6月15日缴纳）"
    assert "-" not in slots["paid_months"] + slots["arrears_months"]


def test_one_year_in_english():
    slots = summary_slots(DEMO_YEARS[1], "en", today=DEC_2026)
    assert slots["paid_months"] == "January–June 2025"
    assert slots["arrears_months"] == "July–December 2025"
    assert slots["inquiry_notes"] == ""


def test_last_payment_of_a_year_is_that_years_not_the_latest_overall():
    slots = summary_slots(DEMO_YEARS[0], "en", today=DEC_2026)
    assert slots["inquiry_outcome"] == "paid_up"
    assert slots["last_payment"].startswith("December 2024")
    nothing = summary_slots(DEMO_YEARS[2], "zh", today=DEC_2026)
    assert nothing["last_payment"] == "2026年无缴费"
    assert nothing["paid_months"] == "无"


def test_the_current_year_says_the_current_month_is_counted():
    en = summary_slots(DEMO_YEARS[2], "en", today=DEC_2026)
    assert en["arrears_count"] == "12"
    assert en["arrears_months"] == "January–December 2026"
    assert en["inquiry_notes"] == (
        "\n- Months owed are counted up to and including December 2026, "
        "the current month"
    )
    zh = summary_slots(DEMO_YEARS[2], "zh", today=DEC_2026)
    assert zh["arrears_months"] == "2026年1月至12月"
    assert zh["inquiry_notes"] == "\n- 欠费（计算到本月，即2026年12月）"
    # another year: no note
    assert summary_slots(DEMO_YEARS[1], "en", today=DEC_2026)["inquiry_notes"] == ""


def test_a_year_before_enrolment_is_not_enrolled_not_paid_up():
    slots = summary_slots(summary(2023, last="2025-06"), "en", today=DEC_2026)
    assert slots == {
        "inquiry_outcome": "not_enrolled",
        "inquiry_year": "2023",
        "enrolled_since": "January 2024",
    }
    zh = summary_slots(summary(2023), "zh", today=DEC_2026)
    assert zh["enrolled_since"] == "2024年1月"


def test_a_future_year():
    slots = summary_slots(summary(2027), "en", today=DEC_2026)
    assert slots["inquiry_outcome"] == "future_year"


def test_pending_and_refunded_months_are_not_shown_as_owed():
    year = summary(
        2024,
        paid=_months(2024, 1, 8),
        pending=["2024-09"],
        refunded=["2024-10"],
        owed=["2024-11", "2024-12"],
    )
    slots = summary_slots(year, "en", today=DEC_2026)
    assert slots["arrears_months"] == "November–December 2024"
    assert slots["arrears_count"] == "2" and slots["arrears_amount"] == "70.00"
    assert (
        "Pending (not yet confirmed, not counted as paid): September 2024"
        in (slots["inquiry_notes"])
    )
    assert "Refunded (not counted as paid): October 2024" in slots["inquiry_notes"]
    zh = summary_slots(year, "zh", today=DEC_2026)
    assert "处理中（待确认，未计入已缴）：2024年9月" in zh["inquiry_notes"]
    assert "已退费（不计入已缴）：2024年10月" in zh["inquiry_notes"]


def test_overview_totals_every_year_and_names_them():
    en = overview_slots(DEMO_YEARS, "en", today=DEC_2026)
    assert en["inquiry_outcome"] == "overview"
    assert en["total_owed"] == "18 months, ¥630.00 (in 2025, 2026)"
    assert en["enrolled_since"] == "January 2024"
    lines = en["inquiry_details"].split("\n")
    assert lines[0] == (
        "- **2024**: paid 12 months (January–December 2024), ¥420.00; paid in full"
    )
    assert lines[1] == (
        "- **2025**: paid 6 months (January–June 2025), ¥210.00; "
        "**owed: 6 months (July–December 2025), ¥210.00**"
    )
    assert lines[2] == (
        "- **2026**: paid: none; **owed: 12 months (January–December 2026), "
        "¥420.00**, counted up to and including December 2026, the current month"
    )
    assert en["last_payment"] == "June 2025, ¥35.00 (paid on 15 June 2025)"
    zh = overview_slots(DEMO_YEARS, "zh", today=DEC_2026)
    assert zh["total_owed"] == "18个月，共¥630.00（2025年、2026年）"
    assert zh["inquiry_details"].split("\n")[0] == (
        "- **2024年**：已缴12个月（2024年1月至12月），¥420.00；已全部缴清"
    )
    assert zh["inquiry_details"].split("\n")[2] == (
        "- **2026年**：已缴：无；**欠费：12个月（2026年1月至12月），共¥420.00**"
        "（计算到本月，即2026年12月）"
    )
    assert "12333" in zh["inquiry_notes"]


def test_overview_with_nothing_owed():
    slots = overview_slots(DEMO_YEARS[:1], "zh", today=DEC_2026)
    assert slots["total_owed"] == "无" and slots["inquiry_notes"] == ""
    assert overview_slots(DEMO_YEARS[:1], "en")["total_owed"] == "nothing"


def _user(intent: str, year: Optional[str] = None) -> Dict[str, Any]:
    entities = [{"entity": "year", "value": year}] if year else []
    return {
        "event": "user",
        "text": "...",
        "parse_data": {"intent": {"name": intent}, "entities": entities},
    }


def _tracker(
    sender: str,
    events: List[Dict[str, Any]],
    slots: Optional[Dict[str, Any]] = None,
    text: str = "",
    intent: str = "",
    requested_slot: Optional[str] = None,
) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": {"requested_slot": requested_slot, **(slots or {})},
            "latest_message": {
                "text": text,
                "intent": {"name": intent} if intent else {},
                "entities": [],
            },
            "events": events,
            "active_loop": {"name": "contribution_inquiry_form"},
        }
    )


def test_the_latest_records_question_decides_the_year_not_a_stale_slot():
    stale = {"inquiry_year": "2024"}
    asked_2024 = [_user("query_my_contributions", "2024")]
    assert asked_year(_tracker("s", asked_2024, stale)) == (True, "2024")
    then_owe = asked_2024 + [_user("query_my_contributions"), _user("inform_number")]
    assert asked_year(_tracker("s", then_owe, stale)) == (False, None)
    # no records question (the inquiry began with an ID number): the slot
    assert asked_year(_tracker("s", [_user("inform_number")])) == (False, None)


def test_an_amount_question_that_started_the_inquiry_asks_for_every_year():
    stale = {"inquiry_year": "2024"}
    asked_2024 = [_user("query_my_contributions", "2024")]
    form = {"event": "action", "name": "contribution_inquiry_form"}
    then_total = asked_2024 + [_user("ask_payment_amount"), form]
    assert asked_year(_tracker("s", then_total, stale)) == (False, None)
    # an amount question answered inside the form (utter_amount) is no records question
    answered = {"event": "action", "name": "utter_amount"}
    digression = asked_2024 + [_user("ask_payment_amount"), answered, form]
    assert asked_year(_tracker("s", digression, stale)) == (True, "2024")


@pytest.fixture
def verified(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> str:
    """A verified conversation of a resident enrolled in January 2024 who paid
    January to March 2024 (the backend's clock: June 2025)."""
    monkeypatch.setenv("SHEBAO_BACKEND_URL", backend.url)
    monkeypatch.setattr(inquiry, "_client", None)
    settings.cache_clear()
    id_number = unique_id_number()
    backend.create_person(id_number)
    for period in _months(2024, 1, 3):
        backend.pay(id_number, period)
    backend.pay(id_number, "2024-04", status="pending")
    sender = sender_id("t", 10)
    # the token is bound to the client; a tracker without channel metadata is its sender
    SESSIONS.verified(sender, backend.login(id_number), ttl=60, client=sender)
    return sender


async def _fetch(sender: str, events, domain, language: str = "en") -> Dict[str, Any]:
    tracker = _tracker(sender, events, {"language": language})
    result = await ActionFetchContributions().run(
        CollectingDispatcher(), tracker, domain
    )
    return {e["name"]: e["value"] for e in result}


@sqlite_only
async def test_how_much_do_i_owe_covers_every_year_since_enrolment(verified, domain):
    values = await _fetch(verified, [_user("query_my_contributions")], domain)
    assert values["inquiry_outcome"] == "overview"
    assert values["total_owed"] == "14 months, ¥490.00 (in 2024, 2025)"
    details = values["inquiry_details"]
    assert "**owed: 8 months (May–December 2024), ¥280.00**" in details
    assert "pending (not yet counted as paid): April 2024" in details
    assert "**owed: 6 months (January–June 2025), ¥210.00**" in details
    assert values["last_payment"] == "March 2024, ¥35.00 (paid on 15 March 2024)"


@sqlite_only
async def test_owed_after_a_year_question_is_not_that_years_answer(verified, domain):
    events = [_user("query_my_contributions", "2024"), _user("query_my_contributions")]
    values = await _fetch(verified, events, domain, "zh")
    assert values["inquiry_outcome"] == "overview"
    assert values["total_owed"] == "14个月，共¥490.00（2024年、2025年）"


@sqlite_only
async def test_a_year_before_enrolment_says_not_enrolled(verified, domain):
    values = await _fetch(verified, [_user("query_my_contributions", "2023")], domain)
    assert values["inquiry_outcome"] == "not_enrolled"
    assert values["enrolled_since"] == "January 2024"


@sqlite_only
async def test_an_id_number_in_the_first_message_is_taken_and_masked(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, domain
):
    monkeypatch.setenv("SHEBAO_BACKEND_URL", backend.url)
    monkeypatch.setattr(inquiry, "_client", None)
    settings.cache_clear()
    id_number = unique_id_number()
    backend.create_person(id_number, phone="13912345678")
    sender = sender_id("t", 10)
    text = f"我的身份证号是{id_number}"
    tracker = _tracker(sender, [], text=text, intent="inform_number")
    events = await ValidateContributionInquiryForm().run(
        CollectingDispatcher(), tracker, domain
    )
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert values["id_number"] == mask_id_number(id_number)
    assert values["masked_phone"] == "139****5678"
    assert id_number not in str(events)
    assert backend.outbox_codes(id_number)


async def test_an_id_number_is_only_read_from_the_first_message(domain):
    form = ValidateContributionInquiryForm()
    asked = _tracker("s", [], text="11010519491231002X", requested_slot="id_number")
    assert await form.extract_id_number(CollectingDispatcher(), asked, domain) == {}
    plain = _tracker("s", [], text="how much do I owe")
    assert await form.extract_id_number(CollectingDispatcher(), plain, domain) == {}


async def test_a_stray_number_asks_for_no_id_and_gets_an_explanation(domain):
    sender = sender_id("t", 10)
    SESSIONS.end(sender)
    tracker = _tracker(sender, [], text="482913", intent="inform_number")
    form = ValidateContributionInquiryForm()
    slots = await form.required_slots(
        inquiry.FORM_SLOTS, CollectingDispatcher(), tracker, domain
    )
    assert slots == []
    result = await ActionFetchContributions().run(
        CollectingDispatcher(), tracker, domain
    )
    assert {"event": "slot", "name": "inquiry_outcome", "value": "number_unclear"} in [
        {k: e[k] for k in ("event", "name", "value")} for e in result
    ]


async def test_leaving_the_inquiry_forgets_its_state(domain):
    sender = sender_id("t", 10)
    SESSIONS.code_sent(sender, "11010519491231002X", ttl=60)
    events = await ActionResetInquiry().run(
        CollectingDispatcher(), _tracker(sender, []), domain
    )
    assert {e["name"] for e in events} == {
        "id_number",
        "verification_code",
        "id_number_problem",
        "code_problem",
        "inquiry_failure",
    }
    assert all(e["value"] is None for e in events)
    assert SESSIONS.pending_id_number(sender) is None


@pytest.mark.parametrize("slot", ["id_number", "verification_code"])
async def test_a_restated_records_question_is_no_malformed_number(domain, slot):
    form = ValidateContributionInquiryForm()
    tracker = _tracker(
        "s", [], text="how much do I owe", intent="query_my_contributions"
    )
    validate = getattr(form, f"validate_{slot}")
    slots = await validate("how much do I owe", CollectingDispatcher(), tracker, domain)
    problem = "id_number_problem" if slot == "id_number" else "code_problem"
    assert slots == {slot: None, problem: None}
