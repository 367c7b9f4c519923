"""A scripted stand-in for the Rasa server, for the widget's fast browser tests.

It mounts the socket.io channel the real server uses (``bot.channels.socketio``,
Rasa 3.6's own channel with its session-room bug fixed, with
``session_persistence: true`` as in credentials.yml), so the wire protocol is
exactly Rasa's; only the dialogue is scripted instead of a trained model.
That lets a test make the bot say things the real one never does (HTML,
``javascript:`` links) and stop and restart "the server" at will.

Run: ``python -m tests.web.fake_rasa PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from rasa.core.channels.channel import UserMessage
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.socketio import SocketIOInput

# What the scripted bot answers (``message text -> reply``); anything else is echoed.
HOSTILE = (
    'Look: <img src=x onerror="window.__xss=1"><script>window.__xss=2</script> '
    "**bold <b>tag</b>** [bad](javascript:window.__xss=3) [good](https://example.org/a?b=1)"
)
LIST = "Three ways:\n1. **Website**\n2. Service outlet\n3. Hotline 12333\n- a bullet"
BUTTONS = [
    {"title": "城镇户口", "payload": '/inform_residency{"residency_type":"urban"}'},
    {
        "title": "<i>农业户口</i>",
        "payload": '/inform_residency{"residency_type":"agricultural"}',
    },
]


ASK_ID = "查询前需要先核实身份。请输入您的18位居民身份证号码。"
ASK_CODE = "验证码已发送到 138****5678，请在5分钟内输入6位验证码。"


def create_app(name: str = "fake_rasa") -> Sanic:
    app = Sanic(name)
    channel = SocketIOInput(session_persistence=True)
    received: list = []  # (sender id, text) of every message, for the tests

    async def on_new_message(message: UserMessage) -> None:
        out = message.output_channel
        text = message.text or ""
        who = message.sender_id
        received.append([who, text])
        if text == "verify":
            await out.send_text_message(who, ASK_ID)
        elif text == "code":
            await out.send_text_message(who, ASK_CODE)
        elif text.startswith("/set_language"):
            lang = json.loads(text[len("/set_language") :])["language"]
            reply = (
                "Okay, I'll answer in English."
                if lang == "en"
                else "好的，我会用中文回答您。"
            )
            await out.send_text_message(who, reply)
        elif text == "hostile":
            await out.send_text_message(who, HOSTILE)
        elif text == "list":
            await out.send_text_message(who, LIST)
        elif text == "buttons":
            await out.send_text_with_buttons(
                who, "请问您是城镇户口还是农业户口？", BUTTONS
            )
        elif text == "slow":
            await asyncio.sleep(1.5)
            await out.send_text_message(who, "done slowly")
        else:
            await out.send_text_message(who, f"echo: {text}")

    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/socketio")

    @app.get("/received")
    async def received_messages(_request: Request) -> HTTPResponse:
        return response.json(received)

    @app.get("/")
    async def health(_request: Request) -> HTTPResponse:
        return response.text("Hello from the fake Rasa")

    return app


if __name__ == "__main__":
    create_app().run(
        host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False
    )
