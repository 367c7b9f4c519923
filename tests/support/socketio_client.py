"""A minimal socket.io client for tests (the widget's wire protocol)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, Optional

import websockets


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

    async def connect(self, url: str, origin: Optional[str] = None) -> "Client":
        ws_url = (
            url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        )
        self.ws = await websockets.connect(ws_url, origin=origin)  # type: ignore[arg-type]
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
