"""A new session keeps what the resident said about themselves, never their records."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.identity_sessions import SESSIONS
from actions.session import ActionEndChat, ActionSessionStart


async def test_a_new_session_keeps_language_and_residency_but_not_the_records(
    make_tracker, dispatcher, domain
):
    tracker = make_tracker(
        slots={
            "language": "zh",
            "residency_type": "urban",
            "paid_months": "2025年1月至6月",
            "arrears_amount": "210.00",
            "inquiry_outcome": "in_arrears",
        }
    )
    events = await ActionSessionStart().run(dispatcher, tracker, domain)
    names = {e["name"] for e in events if e["event"] == "slot"}
    assert (
        SlotSet("language", "zh") in events
        and SlotSet("residency_type", "urban") in events
    )
    assert not names & {"paid_months", "arrears_amount", "inquiry_outcome"}
    assert {"privacy_url", "service_hours_en", "service_hours_zh"} <= names
    assert (
        events[0]["event"] == "session_started"
        and events[-1]["name"] == "action_listen"
    )


async def test_end_chat_forgets_the_verification_and_every_slot_but_the_language(
    make_tracker, dispatcher, domain
):
    SESSIONS.verified("web:someone", "token", ttl=60, channel="socketio", client="c")
    tracker = make_tracker(
        slots={"language": "en", "paid_months": "x"}, sender_id="web:someone"
    )
    events = await ActionEndChat().run(dispatcher, tracker, domain)
    assert SESSIONS.token("web:someone", "socketio", "c") is None
    assert events[0] == {"event": "reset_slots", "timestamp": None}
    assert SlotSet("language", "en") in events
