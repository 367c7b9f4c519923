"""Talk to the running assistant over its REST channel."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List

import pytest
import requests

from tests.support.ids import sender_id as make_sender_id
from tests.support.stack import start_stack, stored_tracker
from tools.devstack import Stack
from tools.heldout_conversations import VERIFICATION_LIMITS

Chat = Callable[[str], List[Dict[str, Any]]]


@pytest.fixture
def sender_id() -> str:
    return make_sender_id("it")


@pytest.fixture
def chat(stack: Stack, sender_id: str) -> Chat:
    """Send one message as this test's user; return the bot's replies."""

    def _send(text: str) -> List[Dict[str, Any]]:
        response = requests.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender_id, "message": text},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    return _send


@pytest.fixture
def tracker(stack: Stack, sender_id: str) -> Callable[[], Dict[str, Any]]:
    """The stored conversation of this test's user, read through the HTTP API."""

    def _get() -> Dict[str, Any]:
        return stored_tracker(stack, f"rest:{sender_id}")  # REST senders are namespaced

    return _get


def texts(replies: List[Dict[str, Any]]) -> str:
    """All reply texts of one turn joined, for substring assertions."""
    return "\n".join(r.get("text", "") for r in replies)


def buttons(replies: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [b for r in replies for b in r.get("buttons", [])]


@pytest.fixture(scope="session")
def conversation_stack() -> Iterator[Stack]:
    """One assistant for the held-out and the development conversation sets.

    Generous verification limits (``VERIFICATION_LIMITS``): the demo resident is
    verified in many conversations of both sets.
    """
    running = start_stack(extra_env=VERIFICATION_LIMITS, with_web=False)
    try:
        yield running
    finally:
        running.stop()
