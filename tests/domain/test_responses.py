"""The domain's responses: one answer per situation, in the right language.

Rasa picks a random variation when several conditional ones match, so for
every combination of the slots a response is conditioned on, exactly one
variation must match, and its text must be in the conversation's language.
"""

from __future__ import annotations

import itertools
import re

import pytest
from rasa.core.nlg.generator import ResponseVariationFilter

CJK = re.compile(r"[\u4e00-\u9fff]")


def condition_slots(variations):
    return sorted({c["name"] for v in variations for c in v.get("condition") or []})


def slot_values(domain, name):
    return domain["slots"][name].get("values", []) + [None]


def test_each_situation_selects_exactly_one_variation_in_its_language(domain):
    chooser = ResponseVariationFilter(domain["responses"])
    for name, variations in domain["responses"].items():
        slots = condition_slots(variations)
        if not slots:
            continue
        for values in itertools.product(*(slot_values(domain, s) for s in slots)):
            filled = dict(zip(slots, values, strict=False))
            if filled.get("language") is None:
                continue  # the language slot always has a value (initial_value: en)
            chosen = chooser.responses_for_utter_action(name, "rest", filled)
            assert len(chosen) == 1, f"{name} {filled}: {len(chosen)} variations"
            has_cjk = bool(CJK.search(chosen[0]["text"]))
            assert has_cjk == (filled["language"] == "zh"), f"{name} {filled}"


def test_language_slot_always_has_a_value(domain):
    assert domain["slots"]["language"]["initial_value"] == "en"


@pytest.mark.parametrize("residency", ["urban", "agricultural"])
def test_guidance_matches_the_seed(domain, residency):
    chooser = ResponseVariationFilter(domain["responses"])
    text = chooser.responses_for_utter_action(
        "utter_payment_guidance",
        "rest",
        {"residency_type": residency, "language": "en"},
    )[0]["text"]
    if residency == "urban":
        for item in (
            "ID card",
            "household registration book",
            "unemployment certificate",
            "digital photo receipt",
            "bank passbook",
            "local social insurance agency",
            "amount approved by the agency",
        ):
            assert item in text
    else:
        assert "village committee or neighbourhood committee" in text


def test_buttons_use_payloads_the_domain_knows(domain):
    intents = set(domain["intents"])
    for name, variations in domain["responses"].items():
        for variation in variations:
            for button in variation.get("buttons", []):
                intent = button["payload"].lstrip("/").split("{")[0]
                assert intent in intents, f"{name}: {button}"
