"""The review console in a real Chromium against the running assistant.

Logs in, filters the list, opens a transcript, flags a turn and exports the
conversation as test stories; screenshots of the list, the transcript and the
dashboard go to ``var/artifacts/console/``.
"""

from __future__ import annotations

import pytest
import requests
import yaml
from playwright.async_api import expect

from tests.support.console import create_staff
from tests.support.ids import sender_id
from tests.web.servers import REPO_ROOT
from tools.devstack import Stack

pytestmark = pytest.mark.stack
SHOTS = REPO_ROOT / "var" / "artifacts" / "console"
STAFF = ("browser-reviewer", "browser-reviewer-pw")


async def test_review_a_conversation_in_the_browser(browser, stack: Stack):
    sender = sender_id("br", 8)
    for text in ("我想自己交医保，怎么办？", "城镇户口", "🙂🙂"):
        response = requests.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        assert response.status_code == 200
    create_staff(stack.env, *STAFF)
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(stack.console_url + "/conversations")
    await page.fill("input[name=username]", STAFF[0])
    await page.fill("input[name=password]", STAFF[1])
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("会话")

    # filter: Chinese REST conversations that hit a fallback
    link = page.locator(f"a.conv:text-is('rest:{sender}')")
    for _ in range(40):
        await page.select_option("select[name=channel]", "rest")
        await page.select_option("select[name=language]", "zh")
        await page.select_option("select[name=fallback]", "yes")
        await page.click("#filters button[type=submit]")
        if await link.count():
            break
        await page.wait_for_timeout(500)
    assert "channel=rest" in page.url and "fallback=yes" in page.url
    await expect(link).to_be_visible()
    await page.screenshot(path=str(SHOTS / "list.png"), full_page=True)

    # open the transcript and flag the first user turn as wrong
    await link.click()
    await expect(page.locator("h1")).to_contain_text(f"rest:{sender}")
    first_turn = page.locator("form.flag").first
    await first_turn.locator("select[name=intent]").select_option("ask_materials")
    await first_turn.locator("button").click()
    await expect(page.locator(".flagged").first).to_contain_text("ask_materials")
    await expect(page.locator("li.turn.fallback")).not_to_have_count(0)
    await page.screenshot(path=str(SHOTS / "transcript.png"), full_page=True)

    # back to the list, select it and export as test stories
    await page.go_back()
    await page.go_back()
    await page.reload()
    await page.locator(f"input[name=id][value='rest:{sender}']").check()
    async with page.expect_download() as download_info:
        await page.click("#export-stories")
    download = await download_info.value
    path = await download.path()
    exported = yaml.safe_load(open(path, encoding="utf-8").read())
    (story,) = exported["stories"]
    assert story["steps"][0] == {
        "user": "我想自己交医保，怎么办？",
        "intent": story["steps"][0]["intent"],
    }

    await page.goto(stack.console_url + "/dashboard")
    await expect(page.locator("#chart-per-day")).to_be_visible()
    await page.wait_for_timeout(300)
    await page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    await page.goto(stack.console_url + "/lang/en?next=/dashboard")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    assert errors == []
    await context.close()
