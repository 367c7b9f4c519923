"""action_disambiguate: "did you mean A or B?" with the two topics as buttons."""

from __future__ import annotations

from actions.disambiguation import ActionDisambiguate, title

RANKING = [
    {"name": "nlu_ambiguous", "confidence": 0.8},
    {"name": "ask_materials", "confidence": 0.42},
    {"name": "greet", "confidence": 0.3},
    {"name": "ask_where_to_go", "confidence": 0.38},
]


async def run(make_tracker, dispatcher, domain, language, entities=None):
    tracker = make_tracker(
        slots={"language": language}, intent="nlu_ambiguous", entities=entities
    )
    tracker.latest_message["intent_ranking"] = RANKING
    events = await ActionDisambiguate().run(dispatcher, tracker, domain)
    assert events == []
    (message,) = dispatcher.messages
    return message


async def test_offers_the_two_topics_in_english(make_tracker, dispatcher, domain):
    message = await run(make_tracker, dispatcher, domain, "en")
    assert message["response"] == "utter_disambiguate"
    assert [b["payload"] for b in message["buttons"]] == [
        "/ask_materials",
        "/ask_where_to_go",
    ]
    assert [b["title"] for b in message["buttons"]] == ["What to bring", "Where to go"]
    assert (message["first"], message["second"]) == ("What to bring", "Where to go")


async def test_titles_follow_the_language(make_tracker, dispatcher, domain):
    message = await run(make_tracker, dispatcher, domain, "zh")
    assert [b["title"] for b in message["buttons"]] == ["要带什么材料", "去哪里办"]


async def test_payloads_carry_the_residency_type(make_tracker, dispatcher, domain):
    entities = [
        {"entity": "residency_type", "value": "urban"},
        {"entity": "language", "value": "en"},
    ]
    message = await run(make_tracker, dispatcher, domain, "en", entities)
    assert (
        message["buttons"][0]["payload"] == '/ask_materials{"residency_type": "urban"}'
    )


async def test_without_two_topics_it_asks_to_rephrase(make_tracker, dispatcher, domain):
    tracker = make_tracker(slots={"language": "en"}, intent="nlu_ambiguous")
    await ActionDisambiguate().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_default"


def test_every_topic_has_a_title_in_both_languages(domain):
    from common.intents import TOPIC_INTENTS

    for intent in TOPIC_INTENTS:
        assert title(domain, intent, "en") != intent
        assert title(domain, intent, "zh") != title(domain, intent, "en")
