"""``bot.channels.socketio.SocketIOInput`` over a real socket.io connection.

Rasa 3.6's own channel never awaits ``enter_room`` (python-socketio 5), so with
``session_persistence: true`` no reply ever reaches the client. These tests
talk to the fixed channel (mounted by ``fake_rasa.py``) with python-socketio's
client, over the WebSocket transport the widget uses.
"""

from __future__ import annotations

import re
import uuid
from typing import AsyncIterator, Iterator, List

import pytest

from tests.support.socketio_client import Client
from tests.web.servers import ARTIFACTS, FakeRasa


@pytest.fixture(scope="module")
def server() -> Iterator[FakeRasa]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    fake = FakeRasa(ARTIFACTS).start()
    yield fake
    fake.stop()


@pytest.fixture
async def clients(server: FakeRasa) -> AsyncIterator[List[Client]]:
    """Two connections, like two browser tabs of one site."""
    opened = [await Client().connect(server.url), await Client().connect(server.url)]
    yield opened
    for client in opened:
        await client.close()


async def test_every_connection_of_a_session_gets_the_replies(clients):
    first, second = clients
    session_id = await first.session(uuid.uuid4().hex)  # the server issues the id
    assert session_id != ""
    assert await second.session(session_id) == session_id  # a second tab

    await first.say({"message": "你好", "session_id": session_id})
    assert await first.reply() == {"text": "echo: 你好"}
    assert await second.reply() == {"text": "echo: 你好"}


async def test_buttons_arrive_as_quick_replies(clients):
    first, _ = clients
    session_id = await first.session(uuid.uuid4().hex)
    await first.say({"message": "buttons", "session_id": session_id})
    reply = await first.reply()
    assert reply["text"] == "请问您是城镇户口还是农业户口？"
    assert [q["title"] for q in reply["quick_replies"]] == [
        "城镇户口",
        "<i>农业户口</i>",
    ]
    assert (
        reply["quick_replies"][0]["payload"]
        == '/inform_residency{"residency_type":"urban"}'
    )


@pytest.mark.parametrize(
    "bad_id", [None, "", "short", "../../etc", "x" * 129, {"a": 1}, 7]
)
async def test_a_malformed_session_id_gets_a_fresh_one(clients, bad_id):
    first, _ = clients
    confirmed = await first.session(bad_id)
    assert re.fullmatch(r"[0-9a-f]{64}", confirmed)  # random + issue time + HMAC
    assert confirmed != bad_id


async def test_malformed_messages_are_ignored_and_the_connection_lives_on(clients):
    first, _ = clients
    session_id = await first.session(uuid.uuid4().hex)
    for payload in [
        "just a string",
        {"message": 42, "session_id": session_id},
        {"no message": "at all"},
    ]:
        await first.say(payload)
    # Unparsable metadata is dropped, the message itself still goes through.
    await first.say(
        {"message": "still here", "session_id": session_id, "metadata": "{bad"}
    )
    assert await first.reply() == {"text": "echo: still here"}
    assert first.no_reply_waiting


async def test_control_characters_are_dropped(clients):
    first, _ = clients
    session_id = await first.session(uuid.uuid4().hex)
    await first.say({"message": "a\u202eb\x00c\u200bd\n", "session_id": session_id})
    assert await first.reply() == {"text": "echo: abcd"}
