"""Scripted conversations the benchmark drives: full paths, not single greetings."""

from __future__ import annotations

from typing import List

Conversation = List[str]

SHEBAO_GUIDANCE: List[Conversation] = [
    ["你好", "我想自己交医保，怎么办？", "城镇户口", "户口本是什么", "谢谢"],
    [
        "How do I pay medical insurance myself?",
        "agricultural",
        "how much do I have to pay",
        "actually my hukou is urban",
        "thanks",
    ],
    ["新公司怎么办理社保登记", "公司注销了社保登记怎么办", "法律依据是什么", "再见"],
    [
        "hi",
        "what documents do I need to bring",
        "are you a bot?",
        "urban",
        "where do I get an unemployment certificate",
        "bye",
    ],
    ["交完医保怎么查询", "转人工", "再见"],
]

# The stock `rasa init` bot's own paths (data/stories.yml of the moodbot).
STOCK_MOODBOT: List[Conversation] = [
    ["hello", "I am feeling great", "bye"],
    ["hi", "I am sad", "yes", "goodbye"],
    ["hey there", "very unhappy", "no", "bye"],
    ["good morning", "are you a bot?", "perfect", "see you"],
]


# A verified inquiry: the third turn's text is the code read from the backend's
# development outbox after the second turn (see bench/run_bench.py).
INQUIRY_OPENERS = ["which months of 2025 have I paid?", "我2025年交了哪几个月"]
INQUIRY_FOLLOW_UPS = ["and 2024?", "2024年的呢"]
