"""Per-user buttons and language, kept through the storage seam."""

from __future__ import annotations

from bot.channels.wechat.memory import UserMemory
from common.storage import MemoryStorage

RESIDENCY = [
    {"title": "城镇户口", "payload": '/inform_residency{"residency_type":"urban"}'},
    {
        "title": "农业户口",
        "payload": '/inform_residency{"residency_type":"agricultural"}',
    },
]


def test_buttons_are_remembered_per_user_and_replaced() -> None:
    memory = UserMemory(buttons_ttl=60)
    memory.remember_buttons("u1", RESIDENCY)
    assert memory.button("u1", 2) == RESIDENCY[1]
    assert memory.button("u1", 3) is None and memory.button("u1", 0) is None
    assert memory.button("u2", 1) is None
    memory.remember_buttons("u1", [])
    assert memory.button("u1", 1) is None


def test_language_defaults_to_chinese_and_ignores_no_signal() -> None:
    memory = UserMemory(buttons_ttl=60)
    assert memory.language("u1") == "zh"
    memory.remember_language("u1", "en")
    memory.remember_language("u1", None)
    assert memory.language("u1") == "en"


def test_state_lives_in_the_storage_under_namespaced_keys_and_expires() -> None:
    now = [0.0]
    storage = MemoryStorage(clock=lambda: now[0])
    memory = UserMemory(buttons_ttl=10, language_ttl=100, storage=storage)
    memory.remember_buttons("oUser", RESIDENCY)
    memory.remember_language("oUser", "en")
    assert storage.get("buttons:oUser") == RESIDENCY
    assert storage.get("lang:oUser") == "en"
    now[0] = 11  # the buttons' lifetime is over, the language's is not
    assert memory.button("oUser", 1) is None
    assert memory.language("oUser") == "en"
    now[0] = 101
    assert memory.language("oUser") == "zh"


def test_a_returned_button_cannot_change_the_memory() -> None:
    memory = UserMemory(buttons_ttl=60)
    memory.remember_buttons("u1", RESIDENCY)
    button = memory.button("u1", 1)
    assert button is not None
    button["payload"] = "/other"
    assert memory.button("u1", 1) == RESIDENCY[0]
