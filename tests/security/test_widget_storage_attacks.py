"""Attacks on what the chat widget keeps in the browser (web/widget/*.js).

Someone who later uses the same computer (a library PC, a family tablet)
must not find a resident's ID number, phone number or verification code in
localStorage or sessionStorage.  The widget masks with the same rules as the
Python redaction: the shared vectors are run through its JavaScript here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import List

import pytest
from playwright.async_api import expect

from tests.common.test_redaction_vectors import VECTORS_PATH, load_vectors
from tests.web.servers import REPO_ROOT
from tests.web.widget_page import Widget

ID = "330102199003071230"
SPACED_ID = "3301 0219 9003 0712 30"
PHONE = "13812345678"
CODE = "654321"
SECRETS = [ID, "19900307", PHONE, "12345678", CODE]

DUMP_STORAGE = """() => {
    const out = [];
    for (const area of [localStorage, sessionStorage]) {
        for (let i = 0; i < area.length; i++) {
            const key = area.key(i);
            out.push(key, area.getItem(key));
        }
    }
    return out;
}"""


def _squeezed(texts: List[str]) -> str:
    """All keys and values, also with separators between digits removed, so
    "138 1234 5678" is found as well."""
    joined = "\n".join(texts)
    return joined + "\n" + re.sub(r"(?<=\d)[ .-](?=\d)", "", joined)


def test_widget_masks_like_python_on_every_vector() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the Chromium test covers the widget)")
    script = (
        "const r = require(process.argv[1]);"
        "const v = require(process.argv[2]);"
        "process.stdout.write(JSON.stringify(v.map(c => r.redactText(c.input))));"
    )
    result = subprocess.run(
        [
            node,
            "-e",
            script,
            str(REPO_ROOT / "web/widget/redact.js"),
            str(VECTORS_PATH),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    vectors = load_vectors()
    got = json.loads(result.stdout)
    mismatches = [
        (v["name"], out, v["expected"])
        for v, out in zip(vectors, got, strict=True)
        if out != v["expected"]
    ]
    assert mismatches == []


async def test_typed_id_phone_and_code_are_not_kept_in_browser_storage(
    browser, fake_rasa, start_web_server, artifacts: Path
) -> None:
    web_url = start_web_server(fake_rasa.url)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(web_url)
    widget = Widget(page)
    await widget.open()
    await widget.wait_online()

    # The widget's JavaScript masks exactly like common/redaction.py.
    vectors = load_vectors()
    got = await page.evaluate(
        "(vs) => vs.map(v => window.ShebaoRedact.redactText(v.input))", vectors
    )
    assert got == [v["expected"] for v in vectors]

    await widget.send("verify")  # the bot asks for the ID number
    await widget.bot_reply_after(0)
    await widget.send(ID)  # inside the verification form
    await widget.bot_reply_after(1)  # "echo: <ID>": results come back too
    await widget.send(f"我的手机是 {PHONE}，身份证 {SPACED_ID}")  # outside it
    await widget.bot_reply_after(2)
    await widget.send("code")  # the bot asks for the code
    await widget.bot_reply_after(3)
    await widget.send(CODE)
    await widget.bot_reply_after(4)
    await widget.send(f"验证码 {CODE[:3]} {CODE[3:]}")
    await widget.bot_reply_after(5)

    # What was typed is still on screen in this conversation ...
    await expect(widget.user_messages.nth(1)).to_have_text(ID)
    await expect(widget.user_messages.nth(4)).to_have_text(CODE)
    # ... but no key or value of either storage holds any of it.
    stored = _squeezed(await page.evaluate(DUMP_STORAGE))
    for secret in SECRETS:
        assert secret not in stored, secret
    assert "138****5678" in stored  # masked, not dropped

    # After a reload only the masked history is shown.
    await page.reload()
    await expect(widget.panel).to_be_visible()  # it stays open in this tab
    await expect(widget.user_messages).to_have_count(6)
    on_screen = await widget.log.inner_text()
    for secret in (ID, PHONE, CODE):
        assert secret not in on_screen.replace(" ", ""), secret
    await context.close()


async def test_clear_history_ends_the_chat_on_the_server(
    browser, fake_rasa, start_web_server
) -> None:
    web_url = start_web_server(fake_rasa.url)
    page = await browser.new_page()
    await page.goto(web_url)
    widget = Widget(page)
    await widget.open()
    await widget.wait_online()
    await widget.send(f"id {ID}")
    await widget.bot_reply_after(0)
    old_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")

    # End chat, confirmed, survey skipped.
    await page.locator("#shebao-panel .end-chat").click()
    await page.locator("#shebao-panel .confirm-end").click()
    await page.locator("#shebao-panel .skip-feedback").click()
    await page.locator("#shebao-panel .new-chat").click()
    await expect(widget.messages).to_have_count(0)
    await widget.wait_online()
    received = json.loads(urllib.request.urlopen(fake_rasa.url + "/received").read())
    assert ["web:" + old_session, "/end_chat"] in received  # web senders are namespaced
    new_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")
    assert new_session and new_session != old_session
    stored = _squeezed(await page.evaluate(DUMP_STORAGE))
    assert "330102" not in stored and "log:" not in stored
    # The reply to /end_chat went to the old conversation, not into the new one.
    await page.wait_for_timeout(1000)
    await expect(widget.messages).to_have_count(0)
    # The new conversation works.
    await widget.send("hello again")
    await expect(await widget.bot_reply_after(0)).to_have_text("echo: hello again")


async def test_a_chat_ended_while_offline_is_ended_on_the_server_once_back(
    browser, fake_rasa, start_web_server
) -> None:
    """The verified session must not outlive "End chat" because the network was down."""
    web_url = start_web_server(fake_rasa.url)
    page = await browser.new_page()
    await page.goto(web_url)
    widget = Widget(page)
    await widget.open()
    await widget.wait_online()
    await widget.send(f"id {ID}")
    await widget.bot_reply_after(0)
    old_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")

    fake_rasa.stop()
    await expect(widget.container).to_have_attribute(
        "data-connection", "reconnecting", timeout=15_000
    )
    await page.locator("#shebao-panel .end-chat").click()
    await page.locator("#shebao-panel .confirm-end").click()
    fake_rasa.start()
    await widget.wait_online(timeout=30_000)
    ended = False
    for _ in range(40):
        received = json.loads(
            urllib.request.urlopen(fake_rasa.url + "/received").read()
        )
        if ["web:" + old_session, "/end_chat"] in received:
            ended = True
            break
        await page.wait_for_timeout(250)
    assert ended, received
    new_session = await page.evaluate("localStorage.getItem('shebao-widget:session')")
    assert new_session and new_session != old_session


async def test_history_of_a_long_closed_tab_expires(
    browser, fake_rasa, start_web_server
) -> None:
    web_url = start_web_server(fake_rasa.url)
    page = await browser.new_page()
    await page.goto(web_url)
    now = time.time() * 1000
    old = [{"id": "a1", "from": "user", "text": "旧对话", "ts": now - 25 * 3600e3}]
    legacy = [{"id": "b1", "from": "user", "text": f"手机 {PHONE}", "ts": now}]
    await page.evaluate(
        """([old, legacy]) => {
            localStorage.setItem('shebao-widget:log:closedtab', JSON.stringify(old));
            localStorage.setItem('shebao-widget:log:oldversion', JSON.stringify(legacy));
        }""",
        [old, legacy],
    )
    await page.reload()
    widget = Widget(page)
    await widget.open()
    await widget.wait_online()
    keys = await page.evaluate("Object.keys(localStorage)")
    assert "shebao-widget:log:closedtab" not in keys  # older than 24 hours
    kept = await page.evaluate("localStorage.getItem('shebao-widget:log:oldversion')")
    assert PHONE not in kept and "138****5678" in kept  # unmasked entries re-masked
    await expect(widget.user_messages).to_have_count(1)
