"""Custom actions, run against Tracker/CollectingDispatcher with the real domain."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.conversation import ActionRequestHuman, ActionSetLanguage
from actions.documents import ActionExplainDocument
from actions.payment import ActionPaymentGuidance, ValidateIndividualPaymentForm


def responses(dispatcher):
    return [m["response"] for m in dispatcher.messages]


def user_event(intent: str, text: str = "") -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def test_every_response_the_actions_can_name_exists(domain):
    names = set(domain["responses"])
    for topic in ("payment", "materials", "where", "amount"):
        for residency in ("urban", "agricultural"):
            assert f"utter_{topic}_{residency}" in names
    from actions.documents import RESPONSE_BY_DOCUMENT, UNKNOWN_DOCUMENT_RESPONSE

    assert set(RESPONSE_BY_DOCUMENT.values()) | {UNKNOWN_DOCUMENT_RESPONSE} <= names
    assert {"utter_language_set_en", "utter_language_set_zh", "utter_handoff"} <= names


def test_every_response_has_english_and_chinese(domain):
    for name, variations in domain["responses"].items():
        if name.startswith("utter_language_set_"):
            continue
        conditions = [v.get("condition") for v in variations]
        assert None in conditions, f"{name} has no default (English) variation"
        assert [{"type": "slot", "name": "language", "value": "zh"}] in conditions, name


@pytest.mark.parametrize(
    "intent, residency, expected",
    [
        ("ask_individual_payment", "urban", "utter_payment_urban"),
        ("ask_individual_payment", "agricultural", "utter_payment_agricultural"),
        ("ask_materials", "urban", "utter_materials_urban"),
        ("ask_where_to_go", "agricultural", "utter_where_agricultural"),
        ("ask_payment_amount", "urban", "utter_amount_urban"),
    ],
)
async def test_guidance_answers_the_topic_asked(
    make_tracker, dispatcher, domain, intent, residency, expected
):
    tracker = make_tracker(
        slots={"residency_type": residency},
        text="urban",
        intent="inform_residency",
        events=[user_event(intent)],
    )
    events = await ActionPaymentGuidance().run(dispatcher, tracker, domain)
    assert events == []
    assert responses(dispatcher) == [expected]


async def test_correction_outside_form_reuses_the_last_topic(make_tracker, dispatcher, domain):
    tracker = make_tracker(
        slots={"residency_type": "agricultural"},
        text="actually my hukou is agricultural",
        intent="inform_residency",
        events=[user_event("ask_materials"), user_event("thank")],
    )
    await ActionPaymentGuidance().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_materials_agricultural"]


async def test_guidance_without_residency_asks_for_it(make_tracker, dispatcher, domain):
    tracker = make_tracker(intent="ask_individual_payment")
    await ActionPaymentGuidance().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_ask_residency_type"]


@pytest.mark.parametrize("value", ["urban", "agricultural"])
def test_form_accepts_canonical_residency(make_tracker, dispatcher, domain, value):
    result = ValidateIndividualPaymentForm().validate_residency_type(
        value, dispatcher, make_tracker(), domain
    )
    assert result == {"residency_type": value}
    assert dispatcher.messages == []


@pytest.mark.parametrize("value", ["城里", "martian", None, ""])
def test_form_rejects_anything_else(make_tracker, dispatcher, domain, value):
    result = ValidateIndividualPaymentForm().validate_residency_type(
        value, dispatcher, make_tracker(), domain
    )
    assert result == {"residency_type": None}
    assert responses(dispatcher) == ["utter_residency_type_unclear"]


async def test_form_validation_runs_through_the_sdk(make_tracker, dispatcher, domain):
    """The SDK calls validate_residency_type for a slot set in this turn."""
    tracker = make_tracker(
        slots={"residency_type": "bogus", "requested_slot": "residency_type"},
        intent="inform_residency",
        active_loop="individual_payment_form",
    )
    # Rasa sends the slot candidates as the last events of the tracker.
    tracker.events.append({"event": "slot", "name": "residency_type", "value": "bogus"})
    events = await ValidateIndividualPaymentForm().run(dispatcher, tracker, domain)
    assert SlotSet("residency_type", None) in events


@pytest.mark.parametrize(
    "document, expected",
    [
        ("household_register", "utter_document_household_register"),
        ("unemployment_certificate", "utter_document_unemployment_certificate"),
        ("bank_passbook", "utter_document_bank_passbook"),
        ("unit_seal", "utter_document_employer_documents"),
    ],
)
async def test_explain_named_document(make_tracker, dispatcher, domain, document, expected):
    tracker = make_tracker(
        intent="ask_document",
        entities=[{"entity": "document", "value": document}],
    )
    await ActionExplainDocument().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == [expected]


async def test_explain_document_falls_back_to_last_discussed(make_tracker, dispatcher, domain):
    tracker = make_tracker(slots={"document": "id_card"}, intent="ask_document")
    await ActionExplainDocument().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_document_id_card"]


async def test_explain_document_asks_which_when_unknown(make_tracker, dispatcher, domain):
    await ActionExplainDocument().run(dispatcher, make_tracker(intent="ask_document"), domain)
    assert responses(dispatcher) == ["utter_document_unknown"]


async def test_request_human_leaves_a_handoff_marker(make_tracker, dispatcher, domain):
    events = await ActionRequestHuman().run(dispatcher, make_tracker(), domain)
    assert events == [SlotSet("handoff_requested", True)]
    assert responses(dispatcher) == ["utter_handoff"]


@pytest.mark.parametrize(
    "text, slot, expected",
    [
        ("请用英文回答", "zh", "en"),
        ("please answer in Chinese", "en", "zh"),
        ('/set_language{"language":"zh"}', "zh", "zh"),
        ("switch language", None, "en"),
    ],
)
async def test_set_language(make_tracker, dispatcher, domain, text, slot, expected):
    tracker = make_tracker(slots={"language": slot}, text=text, intent="set_language")
    events = await ActionSetLanguage().run(dispatcher, tracker, domain)
    assert events == [SlotSet("language", expected)]
    assert responses(dispatcher) == [f"utter_language_set_{expected}"]
