"""Parsed messages for the NLU component tests: a text with an intent ranking."""

from __future__ import annotations

from typing import List, Tuple

from rasa.shared.nlu.training_data.message import Message


def ranked(text: str, ranking: List[Tuple[str, float]]) -> Message:
    """``text`` as the classifier leaves it: the top intent and the whole ranking."""
    message = Message(data={"text": text})
    name, confidence = ranking[0]
    message.set("intent", {"name": name, "confidence": confidence})
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking])
    return message
