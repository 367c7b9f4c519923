"""Flooding the running assistant's REST channel: the flood is cut off, others are not.

The session's stack keeps the default per-conversation limit (30 messages a
minute) and a per-client limit sized for the whole test session (every test
talks from 127.0.0.1).  A second client is a second loopback source address
(127.0.0.2), which the server fingerprints as another client.
"""

from __future__ import annotations

import http.client
import json
from typing import Any, Dict, Tuple
from urllib.parse import urlsplit

import pytest
import requests

from bot.channels.rate_limit import DEFAULT_CONVERSATION_LIMIT
from tests.support.ids import sender_id
from tools.devstack import Stack

pytestmark = pytest.mark.stack
WEBHOOK = "/webhooks/rest/webhook"
LIMIT = int(DEFAULT_CONVERSATION_LIMIT.split("/")[0])


def post_from(
    stack: Stack, source: str, sender: str, text: str = "/greet"
) -> Tuple[int, Dict[str, str], Any]:
    """One REST message sent from the loopback address ``source``."""
    url = urlsplit(stack.rasa_url)
    connection = http.client.HTTPConnection(
        url.hostname or "127.0.0.1", url.port, timeout=60, source_address=(source, 0)
    )
    try:
        connection.request(
            "POST",
            WEBHOOK,
            body=json.dumps({"sender": sender, "message": text}),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def test_a_flood_gets_429_while_other_clients_and_conversations_are_served(
    stack: Stack,
) -> None:
    flooded = sender_id("flood")
    statuses = []
    for _ in range(LIMIT + 5):
        status, headers, body = post_from(stack, "127.0.0.1", flooded)
        statuses.append(status)
        if status == 429:
            break
    # The limit is a moving minute: a slow stack may have let an early message
    # leave the window, never fewer than LIMIT through.
    assert statuses[-1] == 429, statuses
    assert statuses.count(200) >= LIMIT and set(statuses) == {200, 429}
    assert body["reason"] == "rate_limited" and body["status"] == "failure"
    assert int(headers["Retry-After"]) >= 1
    # Still cut off: the flood gets no turn, and its messages are not stored.
    assert post_from(stack, "127.0.0.1", flooded)[0] == 429
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/rest:{flooded}/tracker",
        params={"token": stack.rasa_token},
        timeout=30,
    ).json()
    user_events = [e for e in tracker["events"] if e["event"] == "user"]
    assert len(user_events) == statuses.count(200)

    # Another client is served, even when it names the flooded sender id: a
    # flood from elsewhere cannot lock a resident out of their conversation.
    status, _, replies = post_from(stack, "127.0.0.2", flooded)
    assert status == 200 and replies, replies
    status, _, replies = post_from(stack, "127.0.0.2", sender_id("neighbour"))
    assert status == 200 and replies, replies
    # And the flooding client's other conversations are below their own limit.
    assert post_from(stack, "127.0.0.1", sender_id("other"))[0] == 200
