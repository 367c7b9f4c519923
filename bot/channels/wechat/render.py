"""Turn Rasa's replies into WeChat text, and numbered answers back into payloads.

WeChat text messages have no buttons and no Markdown, so a reply's buttons
become numbered options ("回复数字选择：\\n1. 城镇户口\\n2. 农业户口") and a user who
answers with just a number gets that button's payload sent to Rasa.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from bot.channels.wechat.constants import DEFAULT_LANGUAGE
from common.language import EN, ZH, detect_language

NUMBER_PROMPT = {ZH: "回复数字选择：", EN: "Reply with a number:"}
TEXT_ONLY_NOTICE = {
    ZH: "抱歉，我目前只能处理文字消息。"
    "请直接输入文字描述您的问题，例如“个人怎么交医保”。",
    EN: "Sorry, I can only read text messages. Please type your question, "
    'for example "How do I pay medical insurance myself?"',
}
# Images and locations: what the assistant can do instead, in the user's language.
IMAGE_NOTICE = {
    ZH: "抱歉，我看不了图片。请用文字描述您的问题，例如“个人怎么交医保”；"
    "需要人工帮助请拨打 12333。",
    EN: "Sorry, I can't view images. Please describe your question in words, "
    'for example "How do I pay medical insurance myself?", or call 12333.',
}
LOCATION_NOTICE = {
    ZH: "收到您的位置，但我无法根据位置查找经办网点。"
    "请直接问我，例如“去哪里办理”，或拨打 12333 咨询离您最近的社保经办机构。",
    EN: "Thanks for sharing your location, but I can't look up offices by location. "
    'Ask me, for example "Where do I go to do it?", or call 12333 for the '
    "nearest social insurance agency.",
}
TROUBLE_NOTICE = {
    ZH: "抱歉，系统暂时无法处理您的消息，请稍后再试，或拨打 12333 咨询热线。",
    EN: "Sorry, I can't process your message right now. Please try again later "
    "or call the 12333 hotline.",
}

_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__", re.DOTALL)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_NUMBER_ANSWER = re.compile(r"^\s*(\d{1,2})\s*[.。、)）]?\s*$")


@dataclass
class RenderedReply:
    """What one user message gets back: one text per Rasa message, plus buttons."""

    texts: List[str] = field(default_factory=list)
    buttons: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def joined(self) -> str:
        """All texts as one passive reply."""
        return "\n\n".join(self.texts)


def language_of(text: Optional[str], fallback: str = DEFAULT_LANGUAGE) -> str:
    """The language of ``text`` by the project's detector, else ``fallback``."""
    return detect_language(text) or fallback


def plain_text(text: str) -> str:
    """Markdown the web widget renders, reduced to what a WeChat bubble shows."""
    text = _BOLD.sub(lambda m: m.group(1) or m.group(2), text)
    return _LINK.sub(r"\1 (\2)", text).strip()


def render_messages(
    messages: Iterable[Dict[str, Any]], fallback_language: str = DEFAULT_LANGUAGE
) -> RenderedReply:
    """Render collected Rasa messages; buttons are numbered across the whole reply."""
    reply = RenderedReply()
    for message in messages:
        parts: List[str] = []
        if message.get("text"):
            parts.append(plain_text(str(message["text"])))
        for key in ("image", "attachment"):
            if message.get(key):
                parts.append(str(message[key]))
        buttons = [b for b in message.get("buttons") or [] if b.get("payload")]
        if buttons:
            language = language_of(message.get("text"), fallback_language)
            lines = [NUMBER_PROMPT[language]]
            for button in buttons:
                reply.buttons.append(button)
                title = plain_text(str(button.get("title") or button["payload"]))
                lines.append(f"{len(reply.buttons)}. {title}")
            parts.append("\n".join(lines))
        text = "\n\n".join(p for p in parts if p)
        if text:
            reply.texts.append(text)
    return reply


def numeric_choice(text: Optional[str]) -> Optional[int]:
    """The option number of an answer such as "2", "２" or "2." (else None)."""
    if not text:
        return None
    match = _NUMBER_ANSWER.match(unicodedata.normalize("NFKC", text))
    return int(match.group(1)) if match else None


def split_for_wechat(text: str, max_bytes: int) -> List[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` UTF-8 bytes.

    Cuts at paragraph, then line breaks, then anywhere, so a long answer arrives
    as several readable messages rather than one WeChat refuses.
    """
    if len(text.encode("utf-8")) <= max_bytes:
        return [text] if text else []
    pieces: List[str] = []
    current = ""
    for unit in _units(text, max_bytes):
        candidate = f"{current}\n{unit}" if current else unit
        if len(candidate.encode("utf-8")) <= max_bytes:
            current = candidate
        else:
            if current:
                pieces.append(current)
            current = unit
    if current:
        pieces.append(current)
    return [p.strip("\n") for p in pieces if p.strip()]


def _units(text: str, max_bytes: int) -> List[str]:
    """Lines of ``text``, each cut further if it alone exceeds ``max_bytes``."""
    units: List[str] = []
    for line in text.split("\n"):
        while len(line.encode("utf-8")) > max_bytes:
            cut = _prefix_within(line, max_bytes)
            units.append(line[:cut])
            line = line[cut:]
        units.append(line)
    return units


def _prefix_within(line: str, max_bytes: int) -> int:
    size = 0
    for index, char in enumerate(line):
        size += len(char.encode("utf-8"))
        if size > max_bytes:
            return max(index, 1)
    return len(line)
