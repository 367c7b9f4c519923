"""Beyond text: images, locations and the custom menu, as signed callbacks.

Image and location messages get an answer of their own in the user's language
(remembered from what they last wrote); a menu CLICK asks Rasa the intent of
its key (bot/channels/wechat/menu.json) in that language; VIEW is "success".
"""

from __future__ import annotations

import json

import pytest

from bot.channels.wechat.menu import MENU_FILE, MenuError, load_menu
from bot.channels.wechat.render import IMAGE_NOTICE, LOCATION_NOTICE
from tests.support.wechat_app import FakeRasa, Served, default_answer
from tests.support.wechat_fixtures import Serve

MENU = {
    "个人缴医保": "/ask_individual_payment",
    "单位登记": "/ask_employer_registration",
    "缴费查询": "/ask_check_payment",
    "转人工": "/request_human",
}


async def speak_english(served: Served, openid: str) -> None:
    hello = await served.wechat.post(
        served.http, served.wechat.text(openid, "Hello, in English please")
    )
    assert hello.content == "Hello! How can I help?"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("encrypt", [False, True])
async def test_image_and_location_answers_in_the_users_language(
    served: Served, openid: str, lang: str, encrypt: bool
) -> None:
    if lang == "en":
        await speak_english(served, openid)
    before = len(served.rasa.messages)
    image = await served.wechat.post(
        served.http, served.wechat.image(openid), encrypt=encrypt
    )
    assert image.content == IMAGE_NOTICE[lang]
    location = await served.wechat.post(
        served.http, served.wechat.location(openid), encrypt=encrypt
    )
    assert location.content == LOCATION_NOTICE[lang]
    assert "12333" in location.content
    assert len(served.rasa.messages) == before  # nothing for Rasa


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_menu_clicks_ask_their_intent_in_the_users_language(
    serve: Serve, openid: str, lang: str
) -> None:
    def answer(message):
        text = message.text or ""
        if text.startswith("/ask_") or text.startswith("/request_human"):
            english = '"language": "en"' in text
            return [{"text": "Here is how." if english else "办理方法如下。"}]
        return default_answer(message)

    async with serve(rasa=FakeRasa(answer)) as served:
        if lang == "en":
            await speak_english(served, openid)
        before = len(served.rasa.messages)
        for name, payload in MENU.items():
            reply = await served.wechat.post(
                served.http, served.wechat.menu(openid, "CLICK", payload), encrypt=True
            )
            assert reply.status == 200, name
            assert reply.content == (
                "Here is how." if lang == "en" else "办理方法如下。"
            )
        sent = served.rasa.texts[before:]
        assert sent == [f'{p}{{"language": "{lang}"}}' for p in MENU.values()]
        assert {m.sender_id for m in served.rasa.messages} == {f"wechat:{openid}"}


async def test_view_and_unknown_clicks_are_success_without_rasa(
    served: Served, openid: str
) -> None:
    for event, key in (
        ("VIEW", "https://www.example.gov.cn/"),
        ("CLICK", "/restart"),  # not a key of menu.json
        ("CLICK", '/request_human{"x": 1}'),
    ):
        reply = await served.wechat.post(
            served.http, served.wechat.menu(openid, event, key)
        )
        assert reply.is_success, (event, key)
    assert served.rasa.messages == []


def test_the_menu_file_is_the_documented_menu() -> None:
    menu = json.loads(MENU_FILE.read_text(encoding="utf-8"))
    names = {}
    for button in menu["button"]:
        for item in button.get("sub_button", [button]):
            if item.get("type") == "click":
                names[item["name"]] = item["key"]
    assert names == MENU
    assert load_menu() == {key: key for key in MENU.values()}


@pytest.mark.parametrize(
    "menu",
    [
        {"button": []},
        {"button": [{"type": "click", "name": "x", "key": "ask_check_payment"}]},
        {"button": [{"type": "click", "name": "x", "key": '/a{"b": 1}'}]},
        {"button": [{"type": "view", "name": "x", "url": "http://plain.example/"}]},
        {"button": [{"type": "scancode_push", "name": "x", "key": "/a"}]},
        {"button": [{"name": "x", "sub_button": []}]},
    ],
)
def test_a_bad_menu_file_is_refused(tmp_path, menu) -> None:
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu), encoding="utf-8")
    with pytest.raises(MenuError):
        load_menu(path)
