"""The REST channel in-process: namespaced senders, API key, metadata allow-list."""

from __future__ import annotations

from typing import Any, Dict, List

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage

from bot.channels.rest import RestInput
from common.deployment import UnsafeForProduction
from tests.support.wechat_app import serve_channel


class Recorder:
    """Stands in for Rasa: records each message and answers "ok"."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        assert message.output_channel is not None
        await message.output_channel.send_text_message(message.sender_id, "ok")


async def post(
    url: str, body: Dict[str, Any], **headers: str
) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body, headers=headers) as response:
            await response.read()
            return response


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "development")
    monkeypatch.delenv("SHEBAO_REST_API_KEY", raising=False)


async def test_senders_are_namespaced_and_metadata_allow_listed(development) -> None:
    rasa = Recorder()
    async with serve_channel(RestInput(), rasa, "/webhooks/rest") as url:
        body = {
            "sender": "wechat:oVictim",
            "message": "hi",
            "metadata": {"language": "en", "client": "forged", "deep": {"a": [1, 2]}},
        }
        response = await post(url, body)
    assert response.status == 200
    (message,) = rasa.messages
    assert message.sender_id == "rest:wechat:oVictim"
    assert message.metadata["language"] == "en"
    assert set(message.metadata) == {"language", "client"}
    assert message.metadata["client"].startswith("ip-")  # the server's, not "forged"


async def test_api_key_is_required_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "development")
    monkeypatch.setenv("SHEBAO_REST_API_KEY", "k" * 16 + "0123456789abcdef")
    rasa = Recorder()
    async with serve_channel(RestInput(), rasa, "/webhooks/rest") as url:
        body = {"sender": "someone", "message": "hi"}
        assert (await post(url, body)).status == 401
        assert (await post(url, body, Authorization="Bearer wrong")).status == 401
        ok = await post(
            url, body, Authorization="Bearer " + "k" * 16 + "0123456789abcdef"
        )
    assert ok.status == 200 and len(rasa.messages) == 1


def test_production_refuses_rest_without_an_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "production")
    monkeypatch.delenv("SHEBAO_REST_API_KEY", raising=False)
    with pytest.raises(UnsafeForProduction, match="SHEBAO_REST_API_KEY"):
        RestInput()


async def test_over_the_rate_limit_is_429_rate_limited_and_no_turn(
    development, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEBAO_RATE_LIMIT", "2/minute")
    monkeypatch.setenv("SHEBAO_RATE_LIMIT_CLIENT", "4/minute")
    monkeypatch.delenv("SHEBAO_REDIS_URL", raising=False)
    rasa = Recorder()
    async with serve_channel(RestInput(), rasa, "/webhooks/rest") as url:
        async with aiohttp.ClientSession() as http:

            async def say(sender: str) -> aiohttp.ClientResponse:
                body = {"sender": sender, "message": "hi"}
                async with http.post(url, json=body) as response:
                    response.body = await response.json()  # type: ignore[attr-defined]
                    return response

            assert [(await say("alice")).status for _ in range(2)] == [200, 200]
            limited = await say("alice")
            # Another conversation of the same client is still served, until
            # the client as a whole reaches its own limit.
            others = [(await say(f"bob{n}")).status for n in range(3)]
    assert limited.status == 429
    assert limited.body["reason"] == "rate_limited"  # type: ignore[attr-defined]
    assert limited.body["status"] == "failure"  # type: ignore[attr-defined]
    assert limited.body["code"] == 429  # type: ignore[attr-defined]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert others == [200, 200, 429]
    assert [m.sender_id for m in rasa.messages] == ["rest:alice"] * 2 + [
        "rest:bob0",
        "rest:bob1",
    ]
