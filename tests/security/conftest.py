"""Helpers for attacks on the running assistant."""

from __future__ import annotations

from typing import Any, Dict, List

import requests

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
    return "\n".join(r.get("text", "") for r in replies)
