"""Helpers for attacks on the running assistant, and the web tests' fixtures
(browser, fake Rasa, web server) for the widget attacks."""

from __future__ import annotations

from typing import Any, Dict, List

import requests

from tests.web.conftest import (  # noqa: F401
    artifacts,
    browser,
    fake_rasa,
    start_web_server,
)
from tools.devstack import Stack


def rest(stack: Stack, sender: str, text: str, **headers: str) -> List[Dict[str, Any]]:
    """One REST turn as ``sender``; the bot's replies."""
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def joined(replies: List[Dict[str, Any]]) -> str:
    """All reply texts of one turn."""
    return "\n".join(r.get("text", "") for r in replies)
