"""Custom actions, run against Tracker/CollectingDispatcher with the real domain."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.conversation import ActionSetLanguage
from actions.payment import ValidateIndividualPaymentForm


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


@pytest.mark.parametrize("value, expected", [("bogus", None), ("urban", "urban")])
async def test_form_validation_runs_through_the_sdk(
    make_tracker, dispatcher, domain, value, expected
):
    """The SDK calls validate_residency_type for a slot candidate of this turn."""
    tracker = make_tracker(
        slots={"residency_type": value, "requested_slot": "residency_type"},
        intent="inform_residency",
        active_loop="individual_payment_form",
    )
    # Rasa sends the slot candidates as the last events of the tracker.
    tracker.events.append({"event": "slot", "name": "residency_type", "value": value})
    events = await ValidateIndividualPaymentForm().run(dispatcher, tracker, domain)
    assert SlotSet("residency_type", expected) in events


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
    assert dispatcher.messages == []
