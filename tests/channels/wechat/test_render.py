"""Rasa replies as WeChat text, and numbered answers."""

from __future__ import annotations

from bot.channels.wechat.render import (
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
