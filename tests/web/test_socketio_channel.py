"""``bot.channels.socketio.SocketIOInput`` over a real socket.io connection.

Rasa 3.6's own channel never awaits ``enter_room`` (python-socketio 5), so with
``session_persistence: true`` no reply ever reaches the client. These tests
talk to the fixed channel (mounted by ``fake_rasa.py``) with python-socketio's
client, over the WebSocket transport the widget uses.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any, AsyncIterator, Dict, Iterator, List

import pytest
import websockets

from tests.web.servers import ARTIFACTS, FakeRasa


@pytest.fixture(scope="module")
def server() -> Iterator[FakeRasa]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    fake = FakeRasa(ARTIFACTS).start()
    yield fake
    fake.stop()


class Client:
    """A minimal Socket.IO v5 / Engine.IO v4 client on the WebSocket transport.

    (python-socketio's AsyncClient needs a newer aiohttp than Rasa 3.6 pins,
    and its sync client needs websocket-client; the protocol is small enough.)
    """

    def __init__(self) -> None:
        self.ws: Any = None
        self.events: Dict[str, asyncio.Queue] = {
            "session_confirm": asyncio.Queue(),
            "bot_uttered": asyncio.Queue(),
        }
        self._reader: "asyncio.Task[None]" = None  # type: ignore[assignment]

    async def connect(self, url: str) -> "Client":
        ws_url = (
            url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        )
        self.ws = await websockets.connect(ws_url)
        opening = await self.ws.recv()
        assert opening.startswith("0{"), opening  # Engine.IO "open"
        await self.ws.send("40")  # Socket.IO CONNECT to the main namespace
        connected = await self.ws.recv()
        assert connected.startswith("40{"), connected
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for packet in self.ws:
            if packet == "2":  # Engine.IO ping
                await self.ws.send("3")
            elif packet.startswith("42"):  # Socket.IO EVENT
                name, *args = json.loads(packet[2:])
                if name in self.events:
                    self.events[name].put_nowait(args[0] if args else None)

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send("42" + json.dumps([event, data]))

    async def close(self) -> None:
        self._reader.cancel()
        await self.ws.close()

    async def session(self, session_id: Any) -> str:
        await self.emit("session_request", {"session_id": session_id})
        return await asyncio.wait_for(self.events["session_confirm"].get(), 10)

    async def say(self, payload: Any) -> None:
        await self.emit("user_uttered", payload)

    async def reply(self, timeout: float = 10) -> Dict[str, Any]:
        return await asyncio.wait_for(self.events["bot_uttered"].get(), timeout)

    @property
    def no_reply_waiting(self) -> bool:
        return self.events["bot_uttered"].empty()


@pytest.fixture
async def clients(server: FakeRasa) -> AsyncIterator[List[Client]]:
    """Two connections, like two browser tabs of one site."""
    opened = [await Client().connect(server.url), await Client().connect(server.url)]
    yield opened
    for client in opened:
        await client.close()


async def test_every_connection_of_a_session_gets_the_replies(clients):
    first, second = clients
    session_id = uuid.uuid4().hex
    assert await first.session(session_id) == session_id
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
    assert re.fullmatch(r"[0-9a-f]{32}", confirmed)
    assert confirmed != bad_id


async def test_malformed_messages_are_ignored_and_the_connection_lives_on(clients):
    first, _ = clients
    session_id = await first.session(uuid.uuid4().hex)
    for payload in [
        "just a string",
        {"message": 42, "session_id": session_id},
        {"message": "no session"},
        {"message": "bad session", "session_id": "../x"},
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
