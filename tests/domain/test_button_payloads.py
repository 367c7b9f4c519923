"""Button payloads survive Rasa's response interpolation without an ERROR.

Rasa interpolates slot values into every response string, buttons included
(``rasa/core/nlg/interpolator.py``): a payload with entities,
``/inform_residency{"residency_type":"urban"}``, looks like a placeholder, the
lookup fails and Rasa logs ``interpolator.interpolate.text`` at ERROR on every
such turn.  Rasa's documented escape is doubled braces in the domain
(``/inform_residency{{"residency_type":"urban"}}``), which interpolation turns
back into the single-brace payload the channels send.
"""

from __future__ import annotations

import copy
import json
from typing import Any, List

import pytest
from rasa.core.nlg import interpolator
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator


def _buttons(domain: Any) -> List[dict]:
    return [
        button
        for variations in domain["responses"].values()
        for variation in variations
        for button in variation.get("buttons", [])
    ]


def test_entity_payloads_are_escaped_for_the_interpolator(domain: Any) -> None:
    for button in _buttons(domain):
        payload = button["payload"]
        if "{" in payload:
            assert "{{" in payload and "}}" in payload, payload


def test_filled_buttons_are_the_payloads_the_channels_expect(
    domain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: List[Any] = []
    monkeypatch.setattr(
        interpolator.structlogger, "exception", lambda *a, **k: errors.append((a, k))
    )
    generator = TemplatedNaturalLanguageGenerator(domain["responses"])
    slots = {
        "language": "zh",
        "residency_type": None,
        "masked_phone": "138****1234",
        "privacy_url": "/privacy",
    }
    filled_payloads = []
    for variations in domain["responses"].values():
        for variation in variations:
            if not variation.get("buttons"):
                continue
            filled = generator._fill_response(copy.deepcopy(variation), slots)
            filled_payloads += [button["payload"] for button in filled["buttons"]]
    assert errors == []
    entity_payloads = [p for p in filled_payloads if "{" in p]
    assert '/inform_residency{"residency_type":"urban"}' in entity_payloads
    for payload in entity_payloads:
        json.loads(payload[payload.index("{") :])  # single braces, valid JSON
