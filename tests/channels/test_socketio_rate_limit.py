"""The socket.io channel over the rate limit: a polite notice, no Rasa turn."""

from __future__ import annotations

import pytest
from rasa.core.channels.channel import UserMessage

from bot.channels.rate_limit import RATE_LIMITED_NOTICE
from bot.channels.socketio import SocketIOInput
from tests.support.socketio_client import Client
from tests.support.wechat_app import serve_channel


async def test_a_session_over_the_limit_is_told_to_slow_down_in_its_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "development")
    monkeypatch.setenv("SHEBAO_RATE_LIMIT", "2/minute")
    monkeypatch.delenv("SHEBAO_REDIS_URL", raising=False)
    turns = []

    async def rasa(message: UserMessage) -> None:
        turns.append(message.text)
        assert message.output_channel is not None
        await message.output_channel.send_text_message(
            message.sender_id, f"echo: {message.text}"
        )

    channel = SocketIOInput(session_persistence=True)
    async with serve_channel(channel, rasa, "/webhooks/socketio") as url:
        base = url.split("/webhooks/")[0]
        resident, neighbour = await Client().connect(base), await Client().connect(base)
        try:
            await resident.session(None)
            await neighbour.session(None)
            for text in ("你好", "交医保"):
                await resident.say({"message": text})
                assert await resident.reply() == {"text": f"echo: {text}"}
            await resident.say({"message": "how do I pay?"})
            assert await resident.reply() == {"text": RATE_LIMITED_NOTICE["en"]}
            await resident.say({"message": "还在吗", "metadata": {"language": "zh"}})
            assert await resident.reply() == {"text": RATE_LIMITED_NOTICE["zh"]}
            # Another session (same address, below the client limit) is served.
            await neighbour.say({"message": "你好"})
            assert await neighbour.reply() == {"text": "echo: 你好"}
        finally:
            await resident.close()
            await neighbour.close()
    assert turns == ["你好", "交医保", "你好"]
