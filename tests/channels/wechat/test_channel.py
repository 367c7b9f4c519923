"""The channel over real HTTP in this process: signed (and encrypted) callbacks in,
passive replies or customer-service messages out, with a fake Rasa whose turns
are held by an :class:`asyncio.Event` so budgets and retries are deterministic."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.channels.rate_limit import RATE_LIMITED_NOTICE
from bot.channels.wechat.channel import WeChatInput
from bot.channels.wechat.config import WeChatConfigError, WeChatSettings
from bot.channels.wechat.render import (
    IMAGE_NOTICE,
    LOCATION_NOTICE,
    TEXT_ONLY_NOTICE,
    TROUBLE_NOTICE,
)
from tests.support.fake_wechat import FakeWeChatApi, new_openid, sign
from tests.support.wechat_app import (
    AES_KEY,
    APP_ID,
    APP_SECRET,
    GREETING,
    TOKEN,
    FakeRasa,
    Served,
)
from tests.support.wechat_fixtures import Serve


async def until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Wait (polling the event loop) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_health_and_url_verification(served: Served) -> None:
    async with served.http.get(served.wechat.url.rsplit("/", 1)[0] + "/") as resp:
        assert (resp.status, await resp.json()) == (200, {"status": "ok"})
    ts, nonce = str(int(time.time())), "verify1"
    good = {
        "signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": "4711",
    }
    async with served.http.get(served.wechat.url, params=good) as resp:
        assert (resp.status, await resp.text()) == (200, "4711")
    forged = {**good, "signature": sign("not-our-token", ts, nonce)}
    async with served.http.get(served.wechat.url, params=forged) as resp:
        assert resp.status == 403
        assert (await resp.json())["reason"] == "invalid_signature"


async def test_chinese_text_reaches_rasa_as_the_namespaced_sender(
    served: Served, openid: str
) -> None:
    reply = await served.wechat.post(served.http, served.wechat.text(openid, "你好"))
    assert reply.status == 200
    assert reply.fields["MsgType"] == "text"
    assert reply.fields["ToUserName"] == openid  # the reply goes to the bare OpenID
    assert reply.content == "收到：你好"
    [message] = served.rasa.messages
    assert message.sender_id == f"wechat:{openid}"
    assert message.input_channel == "wechat"
    assert message.text == "你好"
    assert message.metadata == {"wechat": {"msg_type": "text", "event": ""}}


async def test_safe_mode_round_trip(served: Served, openid: str) -> None:
    reply = await served.wechat.post(
        served.http, served.wechat.text(openid, "我想自己交医保"), encrypt=True
    )
    assert reply.status == 200
    assert "<Encrypt>" in reply.body and "城镇" not in reply.body
    assert reply.fields["_encrypted"] is True
    assert reply.content.startswith("请问您是城镇户口还是农业户口？")
    assert served.rasa.texts == ["我想自己交医保"]


async def test_user_text_is_cleaned_before_rasa(served: Served, openid: str) -> None:
    await served.wechat.post(
        served.http, served.wechat.text(openid, "我要\u202e交\u200b医保\ufeff")
    )
    assert served.rasa.texts == ["我要交医保"]
    # nothing left after cleaning: the text-only notice, nothing to Rasa
    reply = await served.wechat.post(
        served.http, served.wechat.text(openid, "\u200b\u202e")
    )
    assert reply.content == TEXT_ONLY_NOTICE["zh"]
    assert len(served.rasa.messages) == 1


async def test_subscribe_asks_rasa_for_the_greeting_in_the_users_language(
    served: Served, openid: str
) -> None:
    reply = await served.wechat.post(
        served.http, served.wechat.event(openid, "subscribe")
    )
    assert reply.content == GREETING
    assert served.rasa.texts == ['/greet{"language": "zh"}']
    unsubscribe = await served.wechat.post(
        served.http, served.wechat.event(openid, "unsubscribe")
    )
    assert unsubscribe.is_success and len(served.rasa.messages) == 1


async def test_voice_uses_the_recognised_text(served: Served, openid: str) -> None:
    reply = await served.wechat.post(
        served.http, served.wechat.voice(openid, "我想自己交医保")
    )
    assert reply.content.startswith("请问您是城镇户口")
    assert served.rasa.texts == ["我想自己交医保"]


async def test_non_text_messages_get_the_text_only_notice_in_the_users_language(
    served: Served, openid: str
) -> None:
    for xml, notice in (
        (served.wechat.voice(openid, None), TEXT_ONLY_NOTICE),
        (served.wechat.image(openid), IMAGE_NOTICE),
        (served.wechat.location(openid), LOCATION_NOTICE),
    ):
        reply = await served.wechat.post(served.http, xml)
        assert reply.content == notice["zh"]
    assert served.rasa.messages == []
    hello = await served.wechat.post(
        served.http, served.wechat.text(openid, "Hello, how do I pay in English?")
    )
    assert hello.content == "Hello! How can I help?"
    reply = await served.wechat.post(served.http, served.wechat.image(openid))
    assert reply.content == IMAGE_NOTICE["en"]
    reply = await served.wechat.post(served.http, served.wechat.location(openid))
    assert reply.content == LOCATION_NOTICE["en"]


async def test_buttons_are_numbered_and_a_number_answers_them(
    served: Served, openid: str
) -> None:
    ask = await served.wechat.post(
        served.http, served.wechat.text(openid, "我想自己交医保，怎么办？")
    )
    assert ask.content.endswith("回复数字选择：\n1. 城镇户口\n2. 农业户口")
    answer = await served.wechat.post(served.http, served.wechat.text(openid, "１"))
    assert answer.content == "好的，城镇户口。"
    assert served.rasa.texts[-1] == '/inform_residency{"residency_type":"urban"}'
    # the options belong to this user only
    other = await served.wechat.post(served.http, served.wechat.text("oOther", "1"))
    assert other.content == "收到：1"


async def test_a_failing_rasa_turn_gets_the_trouble_notice(
    serve: Serve, openid: str
) -> None:
    def broken(message):  # type: ignore[no-untyped-def]
        raise RuntimeError("model exploded")

    async with serve(rasa=FakeRasa(broken)) as served:
        reply = await served.wechat.post(
            served.http, served.wechat.text(openid, "你好")
        )
    assert reply.content == TROUBLE_NOTICE["zh"]


async def test_a_user_over_the_rate_limit_gets_a_polite_passive_reply(
    serve: Serve, openid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEBAO_RATE_LIMIT", "2/minute")
    monkeypatch.delenv("SHEBAO_REDIS_URL", raising=False)
    other = new_openid()
    async with serve() as served:
        for text in ("你好", "hello"):
            reply = await served.wechat.post(
                served.http, served.wechat.text(openid, text)
            )
            assert reply.status == 200 and reply.fields["MsgType"] == "text"
        message = served.wechat.text(openid, "hello again")
        limited = await served.wechat.post(served.http, message)
        # WeChat's retry of the limited message shares its answer, uncounted.
        retried = await served.wechat.post(served.http, message)
        neighbour = await served.wechat.post(
            served.http, served.wechat.text(other, "你好")
        )
    # A 200 with a passive reply, in the language the user last wrote.
    assert limited.status == 200 and limited.fields["MsgType"] == "text"
    assert limited.content == RATE_LIMITED_NOTICE["en"]
    assert retried.status == 200
    assert retried.is_success or retried.content == RATE_LIMITED_NOTICE["en"]
    assert neighbour.content == "收到：你好"
    assert served.rasa.texts == ["你好", "hello", "你好"]


async def test_retries_of_one_message_reach_rasa_once(
    served: Served, fake_api: FakeWeChatApi, openid: str
) -> None:
    msg_id = served.wechat.next_msg_id()
    xml = served.wechat.text(openid, "单位怎么办理社保登记", msg_id=msg_id)
    served.rasa.gate.clear()  # hold the turn until every retry has arrived
    posts = [
        asyncio.ensure_future(served.wechat.post(served.http, xml)) for _ in range(3)
    ]
    await until(
        lambda: (
            (served.job(f"msg:{openid}:{msg_id}") or 0)
            and served.job(f"msg:{openid}:{msg_id}").requests == 3
        )
    )
    served.rasa.gate.set()
    replies = await asyncio.gather(*posts)
    assert [r.content for r in replies] == ["收到：单位怎么办理社保登记"] * 3
    late = await served.wechat.post(served.http, xml)  # after the answer: same answer
    assert late.content == replies[0].content
    assert served.rasa.texts == ["单位怎么办理社保登记"]
    assert fake_api.messages_to(openid) == []  # answered passively, not twice


async def test_subscribe_retries_are_one_event(served: Served, openid: str) -> None:
    xml = served.wechat.event(openid, "subscribe", create_time=int(time.time()))
    await asyncio.gather(*(served.wechat.post(served.http, xml) for _ in range(2)))
    assert len(served.rasa.messages) == 1


async def test_a_turn_over_the_budget_is_success_then_a_customer_service_message(
    serve: Serve, fake_api: FakeWeChatApi, openid: str
) -> None:
    async with serve(reply_budget_seconds=0.3) as served:
        served.rasa.gate.clear()
        msg_id = served.wechat.next_msg_id()
        xml = served.wechat.text(openid, "缴费后怎么查询", msg_id=msg_id)
        started = time.monotonic()
        first = await served.wechat.post(served.http, xml)
        assert first.is_success
        assert 0.3 <= time.monotonic() - started < 3
        # WeChat's retries while the turn still runs: "success", no second turn
        retries = await asyncio.gather(
            *(served.wechat.post(served.http, xml, encrypt=True) for _ in range(2))
        )
        assert all(r.is_success for r in retries)  # "success" is never encrypted
        assert fake_api.messages_to(openid) == []
        served.rasa.gate.set()
        [sent] = await asyncio.to_thread(fake_api.wait_for_messages, openid, 1)
        assert sent["msgtype"] == "text"
        assert sent["text"]["content"] == "收到：缴费后怎么查询"
        assert sent["access_token"] in fake_api.issued_tokens
        late = await served.wechat.post(served.http, xml)
        assert late.is_success
        job = served.job(f"msg:{openid}:{msg_id}")
        await job.delivery
        assert len(fake_api.messages_to(openid)) == 1
        assert served.rasa.texts == ["缴费后怎么查询"]


async def test_a_reply_too_long_for_a_passive_reply_goes_out_in_pieces(
    serve: Serve, fake_api: FakeWeChatApi, openid: str
) -> None:
    long_answer = "\n".join(["很长的回答" * 20] * 5)  # ~1.5 KB per 5 lines of 300 B

    async with serve(
        rasa=FakeRasa(lambda m: [{"text": long_answer}]), max_reply_bytes=400
    ) as served:
        reply = await served.wechat.post(served.http, served.wechat.text(openid, "长"))
        assert reply.is_success
        sent = await asyncio.to_thread(fake_api.wait_for_messages, openid, 5)
    assert all(len(m["text"]["content"].encode()) <= 400 for m in sent)
    assert "\n".join(m["text"]["content"] for m in sent) == long_answer


def _billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">', '<!ENTITY lol1 "' + "&lol;" * 10 + '">'] + [
        f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(2, 10)
    ]
    return (
        '<?xml version="1.0"?><!DOCTYPE xml [' + "".join(entities) + "]>"
        "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content>"
        "<MsgId>1</MsgId></xml>"
    ).encode()


HOSTILE = {
    "malformed": (
        400,
        "malformed_xml",
        b"<xml><FromUserName>{openid}</FromUserName><MsgType>text",
    ),
    "xxe": (
        400,
        "forbidden_xml",
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
        b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content></xml>",
    ),
    "billion-laughs": (400, "forbidden_xml", _billion_laughs()),
    "oversized": (
        413,
        "payload_too_large",
        b"<xml><FromUserName>{openid}</FromUserName><Content>"
        + "很长".encode() * 200_000
        + b"</Content></xml>",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_bodies_are_refused_before_rasa(
    case: str, served: Served, openid: str
) -> None:
    status, reason, template = HOSTILE[case]
    params, _ = served.wechat.signed("<xml/>")
    body = template.replace(b"{openid}", openid.encode())
    reply = await served.wechat.post(served.http, params=params, body=body)
    assert (reply.status, reply.reason) == (status, reason)
    assert served.rasa.messages == []


async def test_forged_and_stale_requests_are_refused_before_rasa(
    served: Served, openid: str
) -> None:
    wechat, http = served.wechat, served.http
    xml = wechat.text(openid, "你好")
    params, body = wechat.signed(xml)
    forged = await wechat.post(
        http, params={**params, "signature": "0" * 40}, body=body
    )
    assert (forged.status, forged.reason) == (403, "invalid_signature")
    stale_params, stale_body = wechat.signed(xml, timestamp=int(time.time()) - 3600)
    stale = await wechat.post(http, params=stale_params, body=stale_body)
    assert (stale.status, stale.reason) == (403, "stale_timestamp")
    unsigned = await wechat.post(http, params={}, body=body)
    assert (unsigned.status, unsigned.reason) == (400, "missing_signature")
    # an encrypted body whose msg_signature was made without the token
    enc_params, enc_body = wechat.signed(xml, encrypt=True)
    enc_params["msg_signature"] = sign(
        "guess", enc_params["timestamp"], enc_params["nonce"]
    )
    tampered = await wechat.post(http, params=enc_params, body=enc_body)
    assert (tampered.status, tampered.reason) == (403, "invalid_signature")
    assert served.rasa.messages == []


async def test_send_tool_signs_and_prints_the_reply(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools import wechat_send

    monkeypatch.setenv("WECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("WECHAT_ENCODING_AES_KEY", AES_KEY)
    for extra in ([], ["--encrypt"]):
        argv = ["--url", served.wechat.url, *extra, "--openid", "oScript1", "你好"]
        assert await asyncio.to_thread(wechat_send.main, argv) == 0
        assert capsys.readouterr().out.strip() == "收到：你好"
    assert served.rasa.texts == ["你好", "你好"]


def test_from_credentials_builds_the_channel_registered_in_credentials_yml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    from tests.conftest import REPO_ROOT

    credentials = yaml.safe_load((REPO_ROOT / "credentials.yml").read_text("utf-8"))
    assert "bot.channels.wechat.WeChatInput" in credentials
    from bot.channels.wechat import WeChatInput as Exported

    assert Exported is WeChatInput
    for name, value in {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SHEBAO_ENV", raising=False)
    channel = WeChatInput.from_credentials(
        credentials["bot.channels.wechat.WeChatInput"]
    )
    assert channel.name() == "wechat" and channel.settings.safe_mode


def test_development_defaults_need_development_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "development")
    channel = WeChatInput(WeChatSettings.load(None, {}))
    assert channel.settings.uses_dev_secrets and not channel.settings.safe_mode
    monkeypatch.setenv("SHEBAO_ENV", "production")
    with pytest.raises(WeChatConfigError, match="WECHAT_TOKEN"):
        WeChatInput(WeChatSettings.load(None, {}))
