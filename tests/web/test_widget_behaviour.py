"""The widget in a real Chromium against a scripted Rasa (``fake_rasa.py``).

These need no trained model: the fake mounts the same socket.io channel as the
real server, so they check the widget's own behaviour quickly: untrusted text
stays text, Markdown, quick replies, typing indicator, two tabs, the server
going away and coming back, keyboard use and the language switch.
The whole conversation against the real assistant is in test_widget_stack.py.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from tests.web.widget_page import Widget
from tools.devstack import free_port


async def test_untrusted_text_is_never_html(
    browser, fake_rasa, start_web_server, artifacts: Path
):
    web_url = start_web_server(fake_rasa.url)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(web_url)
    widget = Widget(page)
    await widget.open()
    await widget.wait_online()

    # The user's own text is shown as typed, not interpreted.
    await widget.send("<b>me</b> **not bold**")
    await expect(widget.user_messages.last).to_contain_text("<b>me</b> **not bold**")
    await widget.bot_reply_after(0)

    await widget.send("hostile")
    reply = await widget.bot_reply_after(1)
    await expect(reply).to_contain_text('<img src=x onerror="window.__xss=1">')
    await expect(reply).to_contain_text("<script>window.__xss=2</script>")
    assert await page.evaluate("window.__xss") is None
    assert await widget.log.locator("img, script, b").count() == 0
    # **bold** becomes <strong>, with the tag inside it still plain text.
    await expect(reply.locator("strong")).to_have_text("bold <b>tag</b>")
    # A javascript: link stays text; an https link is a safe anchor.
    links = reply.locator("a")
    await expect(links).to_have_count(1)
    await expect(links).to_have_attribute("href", "https://example.org/a?b=1")
    await expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")
    await expect(reply).to_contain_text("bad")

    await widget.send("list")
    reply = await widget.bot_reply_after(2)
    await expect(reply.locator("ol > li")).to_have_count(3)
    await expect(reply.locator("ol > li").first.locator("strong")).to_have_text(
        "Website"
    )
    await expect(reply.locator("ul > li")).to_have_text(["a bullet"])

    # Quick-reply titles are text too; a click sends the payload, shows the title.
    await widget.send("buttons")
    await widget.bot_reply_after(3)
    await expect(widget.chips).to_have_text(["城镇户口", "<i>农业户口</i>"])
    await (await widget.chip("城镇户口")).click()
    await expect(widget.user_messages.last).to_have_text("城镇户口")
    reply = await widget.bot_reply_after(4)
    await expect(reply).to_contain_text(
        'echo: /inform_residency{"residency_type":"urban"}'
    )
    await expect(widget.chips).to_have_count(0)  # answered: the buttons go away
    # Every message has a timestamp.
    await expect(widget.messages.locator("time")).to_have_count(
        await widget.messages.count()
    )
    await widget.screenshot(artifacts, "fake-untrusted-text")


async def test_keyboard_only_and_language_switch(
    browser, fake_rasa, start_web_server, artifacts: Path
):
    web_url = start_web_server(fake_rasa.url)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(web_url)
    widget = Widget(page)

    await widget.tab_to_launcher()
    await expect(widget.launcher).to_have_attribute("aria-expanded", "false")
    await page.keyboard.press("Enter")
    await expect(widget.panel).to_be_visible()
    await expect(widget.launcher).to_have_attribute("aria-expanded", "true")
    assert "input" in (await widget.active_element() or "")  # focus moved to the input
    await widget.wait_online()

    await page.keyboard.type("slow")
    await page.keyboard.press("Enter")
    await expect(widget.user_messages.last).to_have_text("slow")
    await expect(widget.typing).to_be_visible()  # the fake answers after 1.5 s
    await widget.bot_reply_after(0)
    await expect(widget.typing).to_be_hidden()

    # Shift+Enter is a new line, and Enter while an IME composes is not "send".
    await page.keyboard.type("line one")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("line two")
    await widget.input.evaluate(
        "el => el.dispatchEvent(new KeyboardEvent('keydown', "
        "{key: 'Enter', isComposing: true, bubbles: true, cancelable: true}))"
    )
    await expect(widget.user_messages).to_have_count(1)
    await expect(widget.input).to_have_value("line one\nline two")
    await page.keyboard.press("Enter")
    reply = await widget.bot_reply_after(1)
    await expect(reply).to_contain_text("line one")

    # Escape closes the panel and gives focus back to the launcher.
    await page.keyboard.press("Escape")
    await expect(widget.panel).to_be_hidden()
    assert "launcher" in (await widget.active_element() or "")

    # The language switch: UI strings change and the bot is told.
    await page.keyboard.press("Enter")
    await expect(widget.panel).to_be_visible()
    english = page.get_by_role("button", name="English")
    await expect(english).to_have_attribute("aria-pressed", "false")
    await english.click()
    await expect(english).to_have_attribute("aria-pressed", "true")
    reply = await widget.bot_reply_after(2)
    await expect(reply).to_have_text("Okay, I'll answer in English.")
    await expect(widget.input).to_have_attribute(
        "placeholder", "Type your question and press Enter"
    )
    await expect(widget.container).to_have_attribute("lang", "en")
    await expect(widget.launcher).to_have_accessible_name(
        "Open the Shebao Assistant chat"
    )
    await expect(page.get_by_role("log")).to_have_accessible_name("Conversation")
    await widget.screenshot(artifacts, "fake-english")


async def test_two_tabs_share_one_conversation(browser, fake_rasa, start_web_server):
    web_url = start_web_server(fake_rasa.url)
    context = await browser.new_context(viewport={"width": 1100, "height": 760})
    first = Widget(await context.new_page())
    await first.page.goto(web_url)
    await first.open()
    await first.wait_online()
    await first.send("hello from tab one")
    await first.bot_reply_after(0)

    second = Widget(await context.new_page())
    await second.page.goto(web_url)
    await second.open()
    await second.wait_online()
    await expect(second.messages).to_have_count(2)
    await expect(second.bot_messages.first).to_have_text("echo: hello from tab one")

    await second.send("hello from tab two")
    for tab in (first, second):
        await expect(tab.messages).to_have_count(4)
        await expect(
            tab.bot_messages.filter(has_text="echo: hello from tab two")
        ).to_have_count(1)
    await context.close()


async def test_server_down_then_back(
    browser, fake_rasa, start_web_server, artifacts: Path
):
    web_url = start_web_server(fake_rasa.url)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(web_url)
    widget = Widget(page)
    await widget.open()
    await widget.wait_online()
    await widget.send("before")
    await widget.bot_reply_after(0)

    fake_rasa.stop()
    await expect(widget.banner).to_be_visible(timeout=15_000)
    await expect(widget.banner).to_have_text("连接已断开，正在重新连接…")
    await expect(widget.container).to_have_attribute("data-connection", "reconnecting")
    await expect(widget.send_button).to_be_disabled()
    await expect(page.get_by_role("status")).to_have_text("连接已断开，正在重新连接…")
    await widget.input.fill(
        "typed while offline"
    )  # typing still works; nothing is lost
    await widget.screenshot(artifacts, "fake-reconnecting")

    fake_rasa.start()
    await widget.wait_online(timeout=30_000)
    await expect(widget.banner).to_be_hidden()
    await expect(page.get_by_role("status")).to_have_text("已重新连接。")
    await widget.input.press("Enter")
    reply = await widget.bot_reply_after(1)
    await expect(reply).to_have_text("echo: typed while offline")


async def test_unreachable_server_shows_an_error(
    browser, start_web_server, artifacts: Path
):
    web_url = start_web_server(f"http://127.0.0.1:{free_port()}")  # nobody listens
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(web_url)
    widget = Widget(page)
    await widget.open()
    await expect(widget.banner).to_contain_text("暂时无法连接服务", timeout=15_000)
    await expect(widget.container).to_have_attribute("data-connection", "offline")
    await expect(widget.send_button).to_be_disabled()
    await expect(widget.welcome_chips).to_have_count(3)
    for index in range(3):
        await expect(widget.welcome_chips.nth(index)).to_be_disabled()
    await widget.screenshot(artifacts, "fake-unreachable")


async def test_options_from_data_attributes(
    browser, fake_rasa, start_web_server, partner_site
):
    """Another site embeds the widget with its own options: one script tag."""
    web_url = start_web_server(fake_rasa.url)
    partner_url = partner_site(
        "<!doctype html><html lang='zh-CN'><head><title>Partner site</title></head>"
        "<body><h1>Partner</h1>"
        f"<script src='{web_url}/widget/shebao-widget.js' "
        f"data-socket-url='{fake_rasa.url}' data-lang='en' data-title='City Help Desk' "
        "data-position='left' data-open='true' data-storage-key='partner' defer>"
        "</script></body></html>"
    )
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(partner_url)
    widget = Widget(page)
    await expect(widget.panel).to_be_visible()  # data-open
    await expect(page.get_by_role("heading", name="City Help Desk")).to_be_visible()
    await expect(widget.container).to_have_attribute("data-position", "left")
    await expect(widget.container).to_have_attribute("lang", "en")  # data-lang
    box = await widget.panel.bounding_box()
    assert box is not None and box["x"] < 100  # bottom-left corner
    await widget.wait_online()
    await widget.send("partner")
    await expect(await widget.bot_reply_after(0)).to_have_text("echo: partner")
    keys = await page.evaluate("Object.keys(localStorage)")
    assert keys and all(key.startswith("partner:") for key in keys)
