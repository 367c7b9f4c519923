"""Page object for the chat widget: what a person sees and does, as locators.

Playwright's CSS and role locators pierce the widget's open shadow root.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from playwright.async_api import Locator, Page, expect

CJK = re.compile(r"[\u3400-\u9fff]")
LAUNCHER_NAME = re.compile(r"打开社保助手在线咨询|Open the Shebao Assistant chat")


class Widget:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_role("button", name=LAUNCHER_NAME)
        self.panel = page.locator("#shebao-panel")
        self.container = page.locator("#shebao-widget .container")
        self.input = page.locator("#shebao-panel textarea")
        self.send_button = page.locator("#shebao-panel button.send")
        self.messages = page.locator("#shebao-panel .log > li.message")
        self.user_messages = page.locator("#shebao-panel .log > li.from-user > .bubble")
        self.bot_messages = page.locator("#shebao-panel .log > li.from-bot > .bubble")
        self.chips = page.locator("#shebao-panel .log .chip")
        self.welcome_chips = page.locator("#shebao-panel .welcome .chip")
        self.banner = page.locator("#shebao-panel .banner")
        self.typing = page.locator("#shebao-panel .typing")
        self.log = page.locator("#shebao-panel .log")

    async def open(self) -> None:
        await self.launcher.click()
        await expect(self.panel).to_be_visible()

    async def wait_online(self, timeout: float = 20_000) -> None:
        await expect(self.container).to_have_attribute(
            "data-connection", "online", timeout=timeout
        )
        await expect(self.send_button).to_be_enabled(timeout=timeout)

    async def send(self, text: str) -> None:
        await self.input.fill(text)
        await self.input.press("Enter")
        await expect(self.user_messages.last).to_contain_text(text)

    async def bot_reply_after(self, count: int, timeout: float = 30_000) -> Locator:
        """The first bot message after the first ``count`` bot messages."""
        reply = self.bot_messages.nth(count)
        await expect(reply).to_be_visible(timeout=timeout)
        return reply

    async def chip(self, title: str, timeout: float = 30_000) -> Locator:
        chip = self.chips.filter(has_text=title)
        await expect(chip).to_be_visible(timeout=timeout)
        return chip

    async def active_element(self) -> Optional[str]:
        """``tag.class`` of the focused element inside the widget, if any."""
        return await self.page.evaluate("""() => {
                const root = document.getElementById('shebao-widget');
                const el = root && root.shadowRoot && root.shadowRoot.activeElement;
                return el ? el.tagName.toLowerCase() + '.' + el.className : null;
            }""")

    async def tab_to_launcher(self, max_presses: int = 40) -> None:
        """Press Tab from the top of the page until the launcher has focus."""
        for _ in range(max_presses):
            await self.page.keyboard.press("Tab")
            active = await self.active_element()
            if active and "launcher" in active:
                return
        raise AssertionError("the launcher cannot be reached with the Tab key")

    async def screenshot(self, directory: Path, name: str) -> Path:
        path = directory / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path
