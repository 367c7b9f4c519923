"""Garbage in, polite answer out: the assistant never errors or echoes markup."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import texts
from tools.devstack import Stack

pytestmark = pytest.mark.stack

HOSTILE = [
    "",
    "   ",
    "a" * 5000,
    "医保" * 2500,
    "😀😀😀🙏",
    "我想pay医保 insurance怎么办??",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    "'; DROP TABLE events; --",
    '/inform_residency{"residency_type":"martian"}',
    "/nonexistent_intent",
    "{{7*7}} ${7*7}",
    "\u0000\u202e\ufeff",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_gets_a_polite_reply(chat, text):
    replies = chat(text)
    reply = texts(replies)
    assert replies, "the assistant stayed silent"
    assert "<script" not in reply and "onerror" not in reply
    assert "49" not in reply


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"not json", "malformed_json"),
        (b"[]", "malformed_json"),
        (b"{}", "invalid_sender"),
        (b'{"sender": 5, "message": "hi"}', "invalid_sender"),
        (b'{"sender": "", "message": "hi"}', "invalid_sender"),
        (b'{"sender": "u", "message": []}', "invalid_message"),
        (b'{"sender": "u", "message": "' + b"a" * 10_001 + b'"}', "message_too_long"),
        (b'{"sender": "u", "message": "hi", "metadata": 3}', "invalid_metadata"),
        (
            b'{"sender": "u", "message": "hi", "input_channel": "wechat"}',
            "unknown_field",
        ),
    ],
)
def test_malformed_rest_requests_get_400_with_a_stable_reason(
    stack: Stack, body, reason
):
    response = requests.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["reason"] == reason
    # the server is still healthy afterwards
    assert requests.get(f"{stack.rasa_url}/", timeout=10).status_code == 200
