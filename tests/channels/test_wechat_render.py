"""Rasa replies as WeChat text, numbered options and the per-user memories."""

from __future__ import annotations

import asyncio

from bot.channels.wechat_dedup import Deduplicator
from bot.channels.wechat_memory import TtlCache, UserMemory
from bot.channels.wechat_render import (
    numeric_choice,
    plain_text,
    render_messages,
    split_for_wechat,
)

RESIDENCY = [
    {"title": "城镇户口", "payload": '/inform_residency{"residency_type":"urban"}'},
    {
        "title": "农业户口",
        "payload": '/inform_residency{"residency_type":"agricultural"}',
    },
]


def test_buttons_become_numbered_options_in_the_reply_language() -> None:
    reply = render_messages(
        [{"text": "请问您是城镇户口还是农业户口？", "buttons": RESIDENCY}]
    )
    assert reply.texts == [
        "请问您是城镇户口还是农业户口？\n\n回复数字选择：\n1. 城镇户口\n2. 农业户口"
    ]
    assert reply.buttons == RESIDENCY
    english = render_messages(
        [{"text": "Urban or agricultural?", "buttons": RESIDENCY[:1]}]
    )
    assert "Reply with a number:\n1. 城镇户口" in english.joined


def test_numbering_runs_across_messages_and_markdown_is_removed() -> None:
    reply = render_messages(
        [
            {"text": "我需要知道您是**城镇户口**还是**农业户口**。"},
            {"text": "请选择", "buttons": RESIDENCY},
            {
                "text": "More",
                "buttons": [{"title": "Talk to a person", "payload": "/request_human"}],
            },
        ]
    )
    assert reply.texts[0] == "我需要知道您是城镇户口还是农业户口。"
    assert reply.texts[2].endswith("3. Talk to a person")
    assert len(reply.buttons) == 3
    assert (
        plain_text("see [12333](https://example.org/x)")
        == "see 12333 (https://example.org/x)"
    )


def test_numeric_choice() -> None:
    assert numeric_choice("2") == 2
    assert numeric_choice(" １ ") == 1  # full-width digit from a Chinese keyboard
    assert numeric_choice("2。") == 2
    assert numeric_choice("12333") is None
    assert numeric_choice("我选2") is None
    assert numeric_choice("") is None


def test_split_for_wechat_keeps_pieces_within_bytes() -> None:
    text = "\n\n".join(["第一段" * 100, "第二段" * 100, "x" * 3000])
    pieces = split_for_wechat(text, 1000)
    assert all(len(p.encode("utf-8")) <= 1000 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert split_for_wechat("短", 1000) == ["短"]


def test_user_memory_buttons_expire_and_are_replaced() -> None:
    memory = UserMemory(buttons_ttl=60)
    memory.remember_buttons("u1", RESIDENCY)
    assert memory.button("u1", 2) == RESIDENCY[1]
    assert memory.button("u1", 3) is None and memory.button("u2", 1) is None
    memory.remember_buttons("u1", [])
    assert memory.button("u1", 1) is None
    assert memory.language("u1") == "zh"
    memory.remember_language("u1", "en")
    memory.remember_language("u1", None)
    assert memory.language("u1") == "en"


def test_ttl_cache_expiry_and_size() -> None:
    now = [0.0]
    cache: TtlCache[int] = TtlCache(ttl=10, max_entries=2, clock=lambda: now[0])
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("c", 3)
    assert cache.get("a") is None and cache.get("c") == 3
    now[0] = 11
    assert cache.get("b") is None


async def test_deduplicator_starts_each_key_once() -> None:
    started = []

    async def work() -> str:
        started.append(1)
        await asyncio.sleep(0.01)
        return "done"

    jobs: Deduplicator[str] = Deduplicator()
    first, new = jobs.claim("msg:1", work)
    again, new_again = jobs.claim("msg:1", work)
    assert new and not new_again and first is again and again.requests == 2
    assert await first.task == "done"
    assert len(started) == 1
