"""Attacks on the redacting tracker store (bot/tracker_store.py), on SQLite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import List, Tuple

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import RedactingSQLTrackerStore
from common.deployment import UnsafeForProduction

ID = "330102199003071230"
PHONE = "13812345678"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RedactingSQLTrackerStore:
    monkeypatch.setenv("SHEBAO_ENV", "development")  # the committed sender key
    return RedactingSQLTrackerStore(
        Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.sqlite3")
    )


def _rows(store: RedactingSQLTrackerStore) -> List[Tuple[str, str]]:
    url = str(store.engine.url)
    path = url.split("sqlite:///", 1)[1]
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT sender_id, data FROM events"))


def _all_text(store: RedactingSQLTrackerStore) -> str:
    return "\n".join(sender + " " + data for sender, data in _rows(store))


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


async def test_spaced_id_number_is_masked_in_stored_events(store) -> None:
    tracker = DialogueStateTracker.from_events(
        "web-1", [UserUttered("我的身份证号 3301 0219 9003 0712 30", {})]
    )
    await store.save(tracker)
    stored = _all_text(store)
    assert "19900307" not in _digits(stored)
    assert "330102********1230" in stored


async def test_integer_and_key_metadata_is_masked_in_stored_events(store) -> None:
    metadata = {"id": int(ID), PHONE: "phone as key", "code": 654321}
    tracker = DialogueStateTracker.from_events(
        "web-2", [UserUttered("hi", {}, metadata=metadata)]
    )
    await store.save(tracker)
    stored = _all_text(store)
    assert ID not in stored and PHONE not in stored and "654321" not in stored


async def test_phone_number_as_sender_id_is_not_stored(store) -> None:
    tracker = DialogueStateTracker.from_events(PHONE, [SlotSet("language", "zh")])
    await store.save(tracker)
    assert PHONE not in _all_text(store)
    assert "1234" not in _digits(_all_text(store))
    # ... and the conversation is still found under its real sender id.
    again = await store.retrieve(PHONE)
    assert again is not None and again.sender_id == PHONE
    assert SlotSet("language", "zh") in list(again.events)
    again.update(SlotSet("language", "en"))
    await store.save(again)
    assert len(_rows(store)) == 2  # the first event is not stored twice


async def test_deeply_nested_metadata_is_stored_redacted_not_raw(store) -> None:
    body = '{"sender":"x","message":"hi","metadata":{"a":' + "[" * 600
    body += json.dumps(ID) + "]" * 600 + "}}"
    metadata = json.loads(body)["metadata"]
    tracker = DialogueStateTracker.from_events(
        "web-3", [UserUttered(f"id {ID}", {}, metadata=metadata)]
    )
    await store.save(tracker)  # must not raise RecursionError
    stored = _all_text(store)
    assert ID not in stored and "[redacted: too deep]" in stored
    assert await store.retrieve("web-3") is not None


async def test_event_that_cannot_be_redacted_is_stored_as_stub(
    store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.tracker_store as module

    def broken(_value: object) -> object:
        raise RuntimeError("redaction bug")

    monkeypatch.setattr(module, "redact_value", broken)
    tracker = DialogueStateTracker.from_events("web-4", [UserUttered(f"id {ID}", {})])
    await store.save(tracker)
    stored = _all_text(store)
    assert ID not in stored and '"redaction": "failed"' in stored
    assert await store.retrieve("web-4") is not None


def test_tracker_store_refuses_the_development_sender_key_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "production")
    monkeypatch.delenv("SHEBAO_TRACKER_SENDER_KEY", raising=False)
    with pytest.raises(UnsafeForProduction, match="SHEBAO_TRACKER_SENDER_KEY"):
        RedactingSQLTrackerStore(
            Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.sqlite3")
        )
