"""Language detection, domain patterns and the spaCy pipeline built from code."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.language.pipeline import build_pipeline, fingerprint
from bot.nlu.components import (
    ContentlessMessageFallback,
    EntityCanonicalizer,
    LanguageDetector,
    YearExtractor,
)
from common.language import detect_language, requested_language
from common.vocabulary import canonical_lookup, canonical_values, iter_phrases


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我想自己交医保", "zh"),
        ("How do I pay medical insurance myself?", "en"),
        ("我要交医保 thanks", "zh"),
        ("how do I pay 医保", "en"),
        ("我是urban户口", "zh"),
        ("城镇", "zh"),
        ("ok", "en"),
        ("😀😀😀", None),
        ("", None),
        (None, None),
        ("   ", None),
        ("123456", None),
        # Full-width punctuation is typed with a Chinese input method.
        ("，，，。。。", "zh"),
        ("？？？", "zh"),
        ("???", None),
        ("/greet", None),
        ('/inform_residency{"residency_type":"urban"}', None),
        ("<script>alert(1)</script>", "en"),
        ("xinnonghe zai nali ban", "zh"),
        ("yibao zenme jiao", "zh"),
        ("城市户口，yibao自己咋交", "zh"),
        ("hukou", None),
        ("how do I sign up for xin nong he", "en"),
        ("where to pay yibao with a city hukou", "en"),
        ("can you help me", "en"),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("请用英文回答", "en"),
        ("please answer in Chinese", "zh"),
        ("说中文", "zh"),
        ("can you speak English", "en"),
        ("English or 中文?", None),
        ("hello", None),
    ],
)
def test_requested_language(text, expected):
    assert requested_language(text) == expected


def test_every_phrase_maps_to_one_canonical_value():
    lookup = canonical_lookup()
    for label, value, phrase in iter_phrases():
        assert lookup[(label, phrase.lower())] == value
    assert canonical_values("residency_type") == ["urban", "agricultural"]


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline()


@pytest.mark.parametrize(
    "text, label, value",
    [
        ("我是城镇户口的，怎么交医保？", "residency_type", "urban"),
        ("其实我是农业户口", "residency_type", "agricultural"),
        ("我户口在农村", "residency_type", "agricultural"),
        ("actually my hukou is agricultural", "residency_type", "agricultural"),
        ("I'm an Urban Resident", "residency_type", "urban"),
        ("户口本是什么", "document", "household_register"),
        ("失业证在哪里开", "document", "unemployment_certificate"),
        ("why do I need a bank passbook", "document", "bank_passbook"),
        ("what is a digital photo receipt?", "document", "photo_receipt"),
        ("新公司要带营业执照吗", "document", "employer_documents"),
        ("去社保局办吗", "place", "social_security_agency"),
        ("公安机关会通知社保吗", "organisation", "public_security"),
    ],
)
def test_pipeline_finds_domain_entities(nlp, text, label, value):
    found = {(ent.label_, ent.ent_id_) for ent in nlp(text).ents}
    assert (label, value) in found


def test_fingerprint_is_stable():
    assert fingerprint() == fingerprint()


def test_language_detector_adds_language_entity():
    messages = [Message(data={"text": "我想交医保"}), Message(data={"text": "👍"})]
    LanguageDetector().process(messages)
    assert [e["value"] for e in messages[0].get("entities")] == ["zh"]
    assert messages[0].get("entities")[0]["extractor"] == "LanguageDetector"
    assert messages[1].get("entities", []) == []


def test_canonicalizer_maps_surface_text_to_canonical_value():
    message = Message(
        data={
            "text": "我是农村户口",
            "entities": [
                {"entity": "residency_type", "value": "农村户口", "start": 2, "end": 6}
            ],
        }
    )
    EntityCanonicalizer().process([message])
    entity = message.get("entities")[0]
    assert entity["value"] == "agricultural"
    assert entity["processors"] == ["EntityCanonicalizer"]


def test_canonicalizer_leaves_unknown_entities_alone():
    message = Message(
        data={"text": "x", "entities": [{"entity": "language", "value": "zh"}]}
    )
    EntityCanonicalizer().process([message])
    assert message.get("entities") == [{"entity": "language", "value": "zh"}]


@pytest.mark.parametrize("text", ["", "   ", "😀🙏", "……", "\n"])
def test_contentless_messages_become_nlu_fallback(text):
    message = Message(
        data={"text": text, "intent": {"name": "greet", "confidence": 0.9}}
    )
    ContentlessMessageFallback().process([message])
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}


@pytest.mark.parametrize("text", ["hi", "你好", "123456"])
def test_messages_with_words_keep_their_intent(text):
    message = Message(
        data={"text": text, "intent": {"name": "greet", "confidence": 0.9}}
    )
    ContentlessMessageFallback().process([message])
    assert message.get("intent")["name"] == "greet"


@pytest.mark.parametrize(
    "text, year",
    [
        ("which months of 2025 have I paid?", "2025"),
        ("2024年的呢", "2024"),
        ("my id is 110105194912310021", None),
        ("hello", None),
    ],
)
def test_year_extractor(text, year):
    message = Message(data={"text": text})
    YearExtractor().process([message])
    found = [e["value"] for e in message.get("entities", []) if e["entity"] == "year"]
    assert found == ([year] if year else [])
