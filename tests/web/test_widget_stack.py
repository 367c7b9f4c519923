"""The widget in a real Chromium, talking to the real assistant.

Uses the ``stack`` fixture (trained model, action server, Rasa with the
socket.io channel from credentials.yml, and ``python -m web``). Screenshots
of each step go to ``var/artifacts/web/stack-*.png``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from playwright.async_api import expect

from backend.demo import DEMO_ID_NUMBER
from tests.support.stack import latest_code
from tests.support.tcp_proxy import TcpProxy
from tests.web.servers import REPO_ROOT
from tests.web.widget_page import CJK, Widget
from tools.devstack import Stack

pytestmark = pytest.mark.stack

QUESTION_ZH = "我想自己交医保，怎么办？"
QUESTION_EN = "How do I pay medical insurance myself?"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def socket_channel_that_delivers_replies(stack: Stack) -> None:
    """Fail early, and say why, if Rasa runs its stock socket.io channel."""
    for service in stack.services:
        if "--credentials" not in service.command:
            continue
        path = REPO_ROOT / service.command[service.command.index("--credentials") + 1]
        credentials = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if "socketio" in credentials:
            pytest.fail(
                f"{path.name} configures Rasa's stock `socketio:` channel, which "
                "never delivers replies with session_persistence: true under "
                "python-socketio 5 (RasaHQ/rasa#13027). "
                "Use `bot.channels.socketio.SocketIOInput:` instead."
            )


@pytest.fixture
def web_url(stack: Stack, start_web_server: Callable[[str], str]) -> Iterator[str]:
    """The stack's web server, or one of our own if the stack runs none."""
    if any(service.name == "web" for service in stack.services):
        yield stack.web_url
    else:
        yield start_web_server(stack.rasa_url)


async def test_a_conversation_in_the_browser(browser, web_url: str, artifacts: Path):
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    await page.goto(web_url + "/")
    widget = Widget(page)

    # Keyboard only: Tab to the launcher, Enter opens it, type, Enter sends.
    await widget.tab_to_launcher()
    await page.keyboard.press("Enter")
    await expect(widget.panel).to_be_visible()
    assert "input" in (await widget.active_element() or "")
    await widget.wait_online(timeout=30_000)
    await page.keyboard.type(QUESTION_ZH)
    await page.keyboard.press("Enter")
    await expect(widget.user_messages.last).to_have_text(QUESTION_ZH)

    # The bot asks which household registration, with two quick replies.
    question = await widget.bot_reply_after(0)
    await expect(question).to_contain_text("城镇户口还是农业户口")
    urban = await widget.chip("城镇户口")
    await expect(widget.chips.filter(has_text="农业户口")).to_be_visible()
    await widget.screenshot(artifacts, "stack-1-question-zh")

    # A quick reply: its title is shown as the user's message; guidance follows.
    await urban.click()
    await expect(widget.user_messages.last).to_have_text("城镇户口")
    guidance = await widget.bot_reply_after(1)
    await expect(guidance).to_contain_text("社保经办机构")
    await expect(guidance).to_contain_text("身份证")
    await expect(guidance.locator("strong").first).to_be_visible()  # **bold** rendered
    await expect(widget.chips).to_have_count(0)
    await widget.screenshot(artifacts, "stack-2-guidance-zh")

    # Switch to English: the bot confirms in English, the UI follows.
    await page.get_by_role("button", name="English").click()
    confirmation = await widget.bot_reply_after(2)
    await expect(confirmation).to_have_text(re.compile(r"English", re.IGNORECASE))
    await expect(widget.input).to_have_attribute(
        "placeholder", "Type your question and press Enter"
    )
    await widget.send(QUESTION_EN)
    answer = await widget.bot_reply_after(3)
    await expect(answer).to_contain_text(
        re.compile(r"urban|agricultural", re.IGNORECASE)
    )
    assert not CJK.search(await answer.inner_text()), (
        "the English answer has Chinese in it"
    )
    await widget.screenshot(artifacts, "stack-3-english")
    shown = await widget.messages.count()

    # Reload: the same conversation is shown again, in the chosen UI language.
    await page.reload()
    await expect(widget.panel).to_be_visible()  # it was open in this tab
    await expect(widget.messages).to_have_count(shown)
    await expect(widget.user_messages.first).to_have_text(QUESTION_ZH)
    await expect(widget.messages.last).to_be_in_viewport()  # scrolled to the end
    await expect(widget.launcher).to_have_accessible_name(
        "Open the Shebao Assistant chat"
    )
    await widget.wait_online(timeout=30_000)
    await widget.screenshot(artifacts, "stack-4-after-reload")

    # A second tab continues the same conversation, on the server too: it
    # remembers the household registration given in the first tab.
    second = Widget(await context.new_page())
    await second.page.goto(web_url + "/")
    await second.open()
    await expect(second.messages).to_have_count(shown)
    await second.wait_online(timeout=30_000)
    await second.send("Where do I go to do it?")
    where = await second.bot_reply_after(4)
    await expect(where).to_contain_text(
        re.compile(r"social insurance agency", re.IGNORECASE)
    )
    await expect(widget.bot_messages.nth(4)).to_have_text(await where.inner_text())
    await second.screenshot(artifacts, "stack-5-second-tab")
    await context.close()


async def test_phone_sized_screen(browser, web_url: str, artifacts: Path):
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = await context.new_page()
    await page.goto(web_url + "/")
    widget = Widget(page)
    await widget.screenshot(artifacts, "stack-6-phone-closed")
    await widget.launcher.tap()
    await expect(widget.panel).to_be_visible()
    box = await widget.panel.bounding_box()
    assert box is not None
    assert (box["x"], box["y"], box["width"], box["height"]) == (
        0,
        0,
        PHONE["width"],
        PHONE["height"],
    )
    await expect(widget.panel).to_have_attribute("aria-modal", "true")
    await expect(widget.launcher).to_be_hidden()  # the panel covers the screen

    await widget.wait_online(timeout=30_000)
    await widget.send(QUESTION_ZH)
    await widget.bot_reply_after(0)
    await widget.chip("农业户口")
    await widget.screenshot(artifacts, "stack-7-phone-open")

    await page.get_by_role("button", name="关闭对话窗口").tap()
    await expect(widget.panel).to_be_hidden()
    await expect(widget.launcher).to_be_visible()
    await context.close()


async def test_reconnecting_when_the_server_goes_away(
    browser, stack: Stack, start_web_server: Callable[[str], str], artifacts: Path
):
    # The browser reaches Rasa through a proxy we can cut, so the shared stack
    # keeps running for the other tests.
    rasa = urlsplit(stack.rasa_url)
    proxy = TcpProxy(rasa.hostname or "127.0.0.1", rasa.port or 80).start()
    try:
        # a page origin the stack's SHEBAO_CORS_ORIGINS allows (tests/support/stack.py)
        web_url = start_web_server(proxy.url, stack.spare_web_port)
        page = await browser.new_page(viewport=DESKTOP)
        await page.goto(web_url + "/")
        widget = Widget(page)
        await widget.open()
        await widget.wait_online(timeout=30_000)
        await widget.send(QUESTION_ZH)
        await widget.chip("城镇户口")

        proxy.stop()
        await expect(widget.banner).to_have_text(
            "连接已断开，正在重新连接…", timeout=15_000
        )
        await expect(widget.container).to_have_attribute(
            "data-connection", "reconnecting"
        )
        await expect(widget.send_button).to_be_disabled()
        await expect(widget.chips.filter(has_text="农业户口")).to_be_disabled()
        await widget.screenshot(artifacts, "stack-8-reconnecting")

        proxy.start()
        await widget.wait_online(timeout=30_000)
        await expect(widget.banner).to_be_hidden()
        # The conversation goes on where it was: the form still wants an answer.
        await (await widget.chip("农业户口")).click()
        guidance = await widget.bot_reply_after(1)
        await expect(guidance).to_contain_text("村委会")
        await widget.screenshot(artifacts, "stack-9-recovered")
    finally:
        proxy.close()


async def test_end_chat_feedback_is_stored_and_a_new_chat_needs_a_new_code(
    browser, stack: Stack, web_url: str, artifacts: Path
):
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = await context.new_page()
    await page.goto(web_url + "/")
    widget = Widget(page)
    await widget.open()
    await widget.wait_online(timeout=30_000)

    # A verified inquiry.
    await widget.send("帮我查一下我2025年交了哪几个月")
    await expect(await widget.bot_reply_after(0)).to_contain_text("身份证")
    await widget.send(DEMO_ID_NUMBER)
    await expect(await widget.bot_reply_after(1)).to_contain_text("验证码")
    await widget.send(latest_code(stack, DEMO_ID_NUMBER))
    await expect(await widget.bot_reply_after(2)).to_contain_text("2025")
    session = await page.evaluate("localStorage.getItem('shebao-widget:session')")

    # End chat, with feedback.
    await page.get_by_role("button", name=re.compile("^结束对话")).click()
    await page.locator("#shebao-panel .confirm-end").click()
    await page.get_by_role("radio", name="是").check()
    await page.get_by_label("4 分").check()
    await page.get_by_label("其他意见（可不填）").fill(
        "很清楚，谢谢。我的手机 13812345678"
    )
    await page.get_by_role("button", name="提交评价").click()
    await expect(page.get_by_role("heading", name="感谢您的评价！")).to_be_visible(
        timeout=15_000
    )
    await widget.screenshot(artifacts, "stack-10-feedback-thanks")

    # The feedback is stored in that conversation, as slots, the comment masked.
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/web:{session}/tracker",
        params={"token": stack.rasa_token},
        timeout=10,
    ).json()
    slots = tracker["slots"]
    assert slots["feedback_answered"] is True
    assert slots["feedback_rating"] == 4
    assert "138****5678" in slots["feedback_comment"]
    assert "13812345678" not in json.dumps(tracker)
    texts = [e.get("text") or "" for e in tracker["events"] if e["event"] == "bot"]
    assert any("感谢您的评价" in text for text in texts)

    # A new conversation: the verification is gone, records need a new code.
    await page.get_by_role("button", name="开始新对话").click()
    await expect(widget.messages).to_have_count(0)
    await widget.wait_online(timeout=30_000)
    new_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")
    assert new_session and new_session != session
    await widget.send("2025年的缴费记录再查一下")
    await expect(await widget.bot_reply_after(0)).to_contain_text("身份证")
    await widget.screenshot(artifacts, "stack-11-new-chat-asks-again")
    await context.close()
