"""Issue "A chat residents trust": end of chat with feedback, a masked copy of
the conversation, tap-to-call, reflow at small/zoomed viewports and the long
outage advice, in a real Chromium against the scripted Rasa (fake_rasa.py).
The feedback stored in the real conversation is in test_widget_stack.py.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.support.tcp_proxy import TcpProxy
from tests.web.widget_page import Widget

ID = "330102199003071235"
PHONE = "13812345678"
SMALL_VIEWPORTS = [(640, 400), (844, 390)]


def received(fake_rasa) -> list:
    return json.loads(urllib.request.urlopen(fake_rasa.url + "/received").read())


async def opened(browser, web_url: str, **context_args) -> Widget:
    context = await browser.new_context(accept_downloads=True, **context_args)
    page = await context.new_page()
    await page.goto(web_url)
    widget = Widget(page)
    await widget.open()
    await widget.wait_online()
    return widget


async def test_end_chat_asks_for_feedback_then_starts_anew(
    browser, fake_rasa, start_web_server, artifacts: Path
):
    widget = await opened(
        browser,
        start_web_server(fake_rasa.url),
        viewport={"width": 1280, "height": 800},
    )
    page = widget.page
    await widget.send("hello")
    await widget.bot_reply_after(0)
    old_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")

    # The header control asks first; "keep chatting" changes nothing.
    end = page.get_by_role("button", name=re.compile("^结束对话"))
    await end.click()
    await expect(page.get_by_role("heading", name="结束本次对话？")).to_be_focused()
    await page.get_by_role("button", name="继续对话").click()
    await expect(widget.messages).to_have_count(2)
    assert ["web:" + old_session, "/end_chat"] not in received(fake_rasa)

    await end.click()
    await page.locator("#shebao-panel .confirm-end").click()
    await expect(page.get_by_role("heading", name="对话已结束")).to_be_visible()
    await (
        page.get_by_role("group", name="您的问题得到解答了吗？")
        .get_by_text("是")
        .click()
    )
    await page.get_by_label("4 分").check()
    await page.get_by_label("其他意见（可不填）").fill(f"很好，我的电话 {PHONE}")
    await widget.screenshot(artifacts, "trust-feedback-zh")
    await page.get_by_role("button", name="提交评价").click()
    await expect(page.get_by_role("heading", name="感谢您的评价！")).to_be_visible()

    messages = [
        text for sender, text in received(fake_rasa) if sender == "web:" + old_session
    ]
    assert "/end_chat" in messages
    feedback = [m for m in messages if m.startswith("/give_feedback")]
    assert len(feedback) == 1
    assert json.loads(feedback[0][len("/give_feedback") :]) == {
        "feedback_answered": True,
        "feedback_rating": 4,
        "feedback_comment": f"很好，我的电话 {PHONE}",
    }
    # Nothing of the old conversation is left here; a new one starts.
    await page.get_by_role("button", name="开始新对话").click()
    await expect(widget.messages).to_have_count(0)
    await widget.wait_online()
    new_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")
    assert new_session and new_session != old_session
    await widget.send("again")
    await expect(await widget.bot_reply_after(0)).to_have_text("echo: again")


async def test_skipping_the_survey_in_english(browser, fake_rasa, start_web_server):
    widget = await opened(browser, start_web_server(fake_rasa.url) + "/?lang=en")
    page = widget.page
    await widget.send("hello")
    await widget.bot_reply_after(0)
    old_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")
    await page.get_by_role("button", name=re.compile("^End chat")).click()
    await page.locator("#shebao-panel .confirm-end").click()
    await expect(page.get_by_text("Did you get an answer?")).to_be_visible()
    await page.get_by_role("button", name="Skip").click()
    await expect(page.get_by_role("heading", name="Chat ended")).to_be_visible()
    messages = [
        text for sender, text in received(fake_rasa) if sender == "web:" + old_session
    ]
    assert "/end_chat" in messages
    assert not any(m.startswith("/give_feedback") for m in messages)
    await page.get_by_role("button", name="Start a new chat").click()
    await expect(widget.messages).to_have_count(0)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_download_and_print_are_masked(
    browser, fake_rasa, start_web_server, artifacts: Path, lang: str
):
    widget = await opened(browser, start_web_server(fake_rasa.url) + f"/?lang={lang}")
    page = widget.page
    shown = 0
    await widget.send(f"我的手机是 {PHONE}，身份证 {ID}")
    await widget.bot_reply_after(shown)
    await widget.send("code")
    await widget.bot_reply_after(shown + 1)
    await widget.send("123456")  # the code, typed where the bot asked for it
    await widget.bot_reply_after(shown + 2)
    await expect(widget.user_messages.last).to_have_text("123456")  # on screen

    download_name = "下载对话记录" if lang == "zh" else "Download the conversation"
    async with page.expect_download() as info:
        await page.get_by_role("button", name=re.compile(download_name)).click()
    download = await info.value
    assert download.suggested_filename.startswith("shebao-chat-")
    assert download.suggested_filename.endswith(".txt")
    text = Path(await download.path()).read_text(encoding="utf-8")
    (artifacts / f"trust-transcript-{lang}.txt").write_text(text, encoding="utf-8")
    squeezed = text.replace(" ", "")
    for secret in (PHONE, ID, "123456"):
        assert secret not in squeezed, secret
    assert "138****5678" in text
    assert "330102********1235" in text
    if lang == "zh":
        assert text.startswith("社保助手 · 对话记录") and "已隐藏" in text
        assert "您：" in text and "社保助手：" in text
    else:
        assert text.startswith("Shebao Assistant · Conversation") and "masked" in text
        assert "You: " in text

    print_name = "打印" if lang == "zh" else "Print"
    async with page.context.expect_page() as popup_info:
        await page.get_by_role("button", name=re.compile("^" + print_name)).click()
    popup = await popup_info.value
    await expect(popup.locator("h1")).to_have_text(
        "社保助手 · 对话记录" if lang == "zh" else "Shebao Assistant · Conversation"
    )
    printed = await popup.locator("body").inner_text()
    for secret in (PHONE, ID, "123456"):
        assert secret not in printed.replace(" ", ""), secret
    assert "138****5678" in printed
    assert await popup.locator("script, img").count() == 0
    await popup.screenshot(path=str(artifacts / f"trust-print-{lang}.png"))

    # Reloaded, the masked history shows the stars as stars, not as **bold**.
    await page.reload()
    await expect(widget.user_messages.first).to_contain_text("138****5678")
    await expect(widget.bot_messages.first).to_contain_text(
        "138****5678，身份证 330102********1235"
    )
    await expect(widget.log.locator("strong")).to_have_count(0)


async def test_hotline_is_a_tel_link_in_bot_text_only(
    browser, fake_rasa, start_web_server
):
    widget = await opened(browser, start_web_server(fake_rasa.url))
    await widget.send("call 12333 or 123334")
    echo = await widget.bot_reply_after(0)
    await expect(echo.locator("a[href='tel:12333']")).to_have_count(1)
    await expect(echo.locator("a")).to_have_text(["12333"])  # not inside 123334
    await expect(widget.user_messages.last.locator("a")).to_have_count(0)
    await widget.send("list")
    reply = await widget.bot_reply_after(1)
    await expect(reply.locator("ol > li").nth(2).locator("a")).to_have_attribute(
        "href", "tel:12333"
    )


async def test_website_link_from_data_attribute(
    browser, fake_rasa, start_web_server, partner_site
):
    web_url = start_web_server(fake_rasa.url)
    url = partner_site(
        "<!doctype html><html lang='en'><body>"
        f"<script src='{web_url}/widget/shebao-widget.js' data-socket-url='{fake_rasa.url}' "
        "data-website-url='https://hrss.example.gov.cn/' data-open='true' defer></script>"
        "</body></html>"
    )
    page = await browser.new_page()
    await page.goto(url)
    link = page.get_by_role("link", name="Official website")
    await expect(link).to_have_attribute("href", "https://hrss.example.gov.cn/")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")


@pytest.mark.parametrize(("width", "height"), SMALL_VIEWPORTS)
async def test_reflow_at_small_and_zoomed_viewports(
    browser, fake_rasa, start_web_server, artifacts: Path, width: int, height: int
):
    web_url = start_web_server(fake_rasa.url)
    page = await browser.new_page(viewport={"width": width, "height": height})
    await page.goto(web_url)
    widget = Widget(page)
    await widget.tab_to_launcher()
    await page.keyboard.press("Enter")
    await widget.wait_online()
    await widget.send("buttons")
    await widget.bot_reply_after(0)

    def inside(box) -> bool:
        return (
            box is not None
            and box["x"] >= 0
            and box["y"] >= 0
            and box["x"] + box["width"] <= width + 0.5
            and box["y"] + box["height"] <= height + 0.5
        )

    header = page.locator("#shebao-panel .header")
    for control in [
        header.locator(".title"),
        page.get_by_role("button", name="中文"),
        page.get_by_role("button", name="English"),
        page.get_by_role("button", name=re.compile("^结束对话")),
        page.get_by_role("button", name="关闭对话窗口"),
    ]:
        box = await control.bounding_box()
        assert inside(box), (await control.evaluate("e => e.outerHTML"), box)
    for button in await header.locator("button").all():
        box = await button.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, box

    # Answer options are choices, not "common questions".
    await expect(page.get_by_role("group", name="请选择")).to_be_visible()

    # Tab reaches every control, each scrolled into view; never the launcher.
    await page.get_by_role("button", name="中文").focus()
    seen = []
    for _ in range(20):
        focused = await page.evaluate("""() => {
            const el = document.getElementById('shebao-widget').shadowRoot.activeElement;
            if (!el) return null;
            const r = el.getBoundingClientRect();
            return {name: el.tagName.toLowerCase() + '.' + el.className + ' '
                        + (el.getAttribute('aria-label') || el.textContent),
                    box: {x: r.x, y: r.y, width: r.width, height: r.height}};
        }""")
        assert focused, seen  # the panel is modal here: Tab stays inside
        name = focused["name"]
        assert "launcher" not in name
        if name in seen:
            break
        seen.append(name)
        assert inside(focused["box"]), (name, focused["box"])
        await page.keyboard.press("Tab")
    for wanted in ("end-chat", "close", "chip", "input", "download", "print"):
        assert any(wanted in name for name in seen), (wanted, seen)
    await widget.screenshot(artifacts, f"trust-reflow-{width}x{height}")

    await page.get_by_role("button", name=re.compile("^结束对话")).click()
    await page.locator("#shebao-panel .confirm-end").click()
    send = page.get_by_role("button", name="提交评价")
    await send.scroll_into_view_if_needed()
    assert inside(await send.bounding_box())
    await widget.screenshot(artifacts, f"trust-reflow-feedback-{width}x{height}")


async def test_typing_is_announced_once(browser, fake_rasa, start_web_server):
    widget = await opened(browser, start_web_server(fake_rasa.url))
    page = widget.page
    await widget.input.fill("slow")
    await widget.input.press("Enter")
    await expect(widget.typing).to_be_visible()
    await expect(widget.typing).to_have_attribute("aria-hidden", "true")
    await expect(page.get_by_role("status")).to_have_text("社保助手正在输入…")
    await widget.bot_reply_after(0)
    await expect(page.get_by_role("status")).to_have_text("")
    await expect(widget.launcher).to_have_attribute("tabindex", "-1")


async def test_long_outage_gives_the_hotline(
    browser, fake_rasa, start_web_server, partner_site, artifacts: Path
):
    proxy = TcpProxy("127.0.0.1", fake_rasa.port).start()
    try:
        web_url = start_web_server(fake_rasa.url)
        url = partner_site(
            "<!doctype html><html lang='zh-CN'><body>"
            f"<script src='{web_url}/widget/shebao-widget.js' data-socket-url='{proxy.url}' "
            "data-outage-seconds='2' data-open='true' defer></script></body></html>"
        )
        page = await browser.new_page()
        await page.goto(url)
        widget = Widget(page)
        await widget.wait_online()
        proxy.stop()
        await expect(widget.banner).to_have_text(
            "连接已断开，正在重新连接…", timeout=15_000
        )
        await expect(widget.banner).to_contain_text("12333", timeout=10_000)
        await expect(widget.banner.locator("a")).to_have_attribute("href", "tel:12333")
        await expect(widget.container).to_have_attribute(
            "data-connection", "reconnecting"
        )
        await expect(page.get_by_role("status")).to_contain_text("12333")
        await widget.screenshot(artifacts, "trust-outage")
        proxy.start()
        await widget.wait_online(timeout=30_000)
        await expect(widget.banner).to_be_hidden()
        await expect(widget.container).to_have_attribute("data-outage", "false")
    finally:
        proxy.close()
