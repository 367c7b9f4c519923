"""The "nothing lost" checker finds every way a conversation can go wrong in the store.

Conversations are written through the real tracker store (SQLite) and the
replies a resident would have received are made by Rasa's own REST output
channel from the same bot events; then rows are deleted, duplicated, moved
to another conversation or changed, as a broken lock store or a lost write
would, and the checker must name each.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import pytest
import sqlalchemy as sa
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bench.load_check import check_run, main, run_prefixes
from bot.tracker_store import RedactingSQLTrackerStore
from tests.support.ids import random_tag, sender_id

REPO_ROOT = Path(__file__).resolve().parents[2]
Turn = Tuple[str, Sequence[BotUttered]]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(REPO_ROOT / "domain.yml"))


@pytest.fixture
def store(
    tmp_path: Path, domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> RedactingSQLTrackerStore:
    monkeypatch.setenv("SHEBAO_ENV", "development")  # the dev sender key
    return RedactingSQLTrackerStore(
        domain=domain, host=f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    )


def delivered(events: Sequence[BotUttered]) -> List[Dict[str, Any]]:
    """What the REST channel answers for these bot events (Rasa's own channel)."""
    channel = CollectingOutputChannel()
    for event in events:
        asyncio.run(channel.send_response("someone", event.message()))
    return [
        {k: v for k, v in m.items() if k != "recipient_id"} for m in channel.messages
    ]


def converse(
    store: RedactingSQLTrackerStore, sender: str, turns: Sequence[Turn]
) -> Dict[str, Any]:
    """Store the conversation turn by turn; the record a resident would write."""
    tracker = asyncio.run(store.get_or_create_tracker("rest:" + sender))
    record: Dict[str, Any] = {"sender": sender, "turns": [], "outcome": "complete"}
    for text, bot in turns:
        tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
        for event in bot:
            tracker.update(ActionExecuted("utter_x"))
            tracker.update(event)
        tracker.update(ActionExecuted("action_listen"))
        asyncio.run(store.save(tracker))
        record["turns"].append({"text": text, "replies": delivered(bot)})
    return record


GUIDANCE: List[Turn] = [
    ("我想自己交医保，怎么办？", [BotUttered("您是城镇户口还是农业户口？")]),
    (
        '/inform_residency{"residency_type":"urban"}',
        [
            BotUttered("第一段。\n\n第二段：带上户口本。"),  # two REST messages
            BotUttered(
                "还有别的问题吗？",
                {"buttons": [{"title": "转人工", "payload": "/request_human"}]},
            ),
        ],
    ),
    (
        "谢谢",
        [BotUttered("不客气"), BotUttered(None, {"image": "https://x.test/a.png"})],
    ),
]
ENGLISH: List[Turn] = [
    ("How do I pay medical insurance myself?", [BotUttered("Urban or rural?")]),
    # the store masks the number; the checker masks what was received alike
    ("call me on 13812345678", [BotUttered("I will not store 13812345678.")]),
    ("bye", [BotUttered("Goodbye!")]),
]


@pytest.fixture
def run(
    store: RedactingSQLTrackerStore, tmp_path: Path
) -> Tuple[Path, str, List[Dict[str, Any]]]:
    """Two conversations of one run, stored and written as transcripts."""
    tag = random_tag(8)
    records = [
        converse(store, sender_id(f"load-{tag}"), GUIDANCE),
        converse(store, sender_id(f"load-{tag}"), ENGLISH),
    ]
    path = write(tmp_path / "transcripts.jsonl", records)
    return path, str(store.engine.url), records


def write(path: Path, records: Sequence[Dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def sql(url: str, statement: str, **params: Any) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(statement), params)
    engine.dispose()


def user_row(url: str, sender: str, index: int) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        ids = connection.execute(
            sa.text(
                "SELECT id FROM events WHERE sender_id = :s AND type_name = 'user' "
                "ORDER BY id"
            ),
            {"s": "rest:" + sender},
        ).scalars()
        row = list(ids)[index]
    engine.dispose()
    return int(row)


def test_an_intact_run_passes_with_its_counts(run: Any) -> None:
    path, url, _ = run
    report = check_run(path, url)
    assert report.mismatches == []
    assert report.ok
    assert (report.conversations, report.turns_checked) == (2, 6)
    assert (report.user_events, report.bot_events) == (6, 8)


def turn_rows(url: str, sender: str, index: int) -> List[int]:
    """Row ids of turn ``index``: its user event up to the next user event."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT id, type_name FROM events WHERE sender_id = :s ORDER BY id"
            ),
            {"s": "rest:" + sender},
        ).fetchall()
    engine.dispose()
    starts = [i for i, (_, kind) in enumerate(rows) if kind == "user"] + [len(rows)]
    return [int(row_id) for row_id, _ in rows[starts[index] : starts[index + 1]]]


def test_a_lost_turn_is_found(run: Any) -> None:
    path, url, records = run
    sender = records[0]["sender"]
    for row in turn_rows(url, sender, 1):
        sql(url, "DELETE FROM events WHERE id = :i", i=row)
    report = check_run(path, url)
    assert not report.ok
    assert report.kinds  # its bot messages now follow the turn before
    assert sender in report.mismatches[0]


def test_a_lost_last_turn_is_found(run: Any) -> None:
    path, url, records = run
    for row in turn_rows(url, records[1]["sender"], 2):
        sql(url, "DELETE FROM events WHERE id = :i", i=row)
    assert set(check_run(path, url).kinds) == {"lost_turn"}


def test_a_lost_user_event_is_found(run: Any) -> None:
    """Its replies are then stored after the turn before: they do not match."""
    path, url, records = run
    sql(
        url,
        "DELETE FROM events WHERE id = :i",
        i=user_row(url, records[0]["sender"], 2),
    )
    assert set(check_run(path, url).kinds) == {"replies"}


def test_a_turn_stored_twice_is_found(run: Any) -> None:
    path, url, records = run
    sender = records[1]["sender"]
    row = user_row(url, sender, 0)
    sql(
        url,
        "INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
        "action_name, data) SELECT sender_id, type_name, timestamp, intent_name, "
        "action_name, data FROM events WHERE id = :i",
        i=row,
    )
    report = check_run(path, url)
    assert set(report.kinds) == {"extra_turn"}


def test_turns_interleaved_between_conversations_are_found(run: Any) -> None:
    path, url, records = run
    first, second = (r["sender"] for r in records)
    for row in turn_rows(url, second, 1):  # a turn saved under the wrong sender
        sql(
            url,
            "UPDATE events SET sender_id = :s WHERE id = :i",
            s="rest:" + first,
            i=row,
        )
    report = check_run(path, url)
    assert dict(report.kinds) == {"extra_turn": 1, "lost_turn": 1}
    lines = "\n".join(report.mismatches)
    assert f"extra_turn: {first}" in lines and f"lost_turn: {second}" in lines


def test_a_changed_reply_is_found(run: Any) -> None:
    path, url, records = run
    sql(
        url,
        "UPDATE events SET data = REPLACE(data, 'Goodbye!', 'Hello!') "
        "WHERE type_name = 'bot' AND sender_id = :s",
        s="rest:" + records[1]["sender"],
    )
    report = check_run(path, url)
    assert set(report.kinds) == {"replies"}


def test_a_conversation_no_resident_held_is_found(
    run: Any, store: RedactingSQLTrackerStore
) -> None:
    path, url, records = run
    prefix = run_prefixes(records)[0][len("rest:") :]
    converse(store, prefix + random_tag(), ENGLISH[:1])
    report = check_run(path, url)
    assert set(report.kinds) == {"foreign_conversation"}


def test_a_conversation_missing_from_the_store_is_found(run: Any) -> None:
    path, url, records = run
    sql(
        url, "DELETE FROM events WHERE sender_id = :s", s="rest:" + records[0]["sender"]
    )
    assert set(check_run(path, url).kinds) == {"missing"}


def test_a_failed_turn_fails_the_run_whether_or_not_it_was_stored(
    store: RedactingSQLTrackerStore, tmp_path: Path
) -> None:
    tag = random_tag(8)
    stored = converse(store, sender_id(f"load-{tag}"), ENGLISH)
    stored["turns"][-1] = {"text": "bye", "status": 502}  # answered, but not to us
    stored["outcome"] = "failed"
    unstored = converse(store, sender_id(f"load-{tag}"), ENGLISH[:2])
    unstored["turns"].append({"text": "bye", "status": 0})
    unstored["outcome"] = "failed"
    path = write(tmp_path / "t.jsonl", [stored, unstored])
    report = check_run(path, str(store.engine.url))
    assert report.mismatches == []
    assert (report.failed_turns, report.unconfirmed_stored) == (2, 1)
    assert not report.ok
    assert report.acknowledged_kept  # a run that killed processes accepts both
    assert main([str(path), str(store.engine.url)]) == 1
    assert main(["--allow-failed", str(path), str(store.engine.url)]) == 0


def test_with_failures_allowed_an_acknowledged_turn_must_still_be_stored(
    store: RedactingSQLTrackerStore, tmp_path: Path
) -> None:
    """A kill may cost the turns in flight, never one that was answered."""
    record = converse(store, sender_id(f"load-{random_tag(8)}"), ENGLISH)
    record["turns"][-1] = {"text": "bye", "status": 502}
    record["outcome"] = "failed"
    url = str(store.engine.url)
    sql(url, "DELETE FROM events WHERE id = :i", i=user_row(url, record["sender"], 1))
    path = write(tmp_path / "t.jsonl", [record])
    report = check_run(path, url)
    assert not report.acknowledged_kept
    assert report.kinds  # its bot messages now follow the turn before
    assert main(["--allow-failed", str(path), url]) == 1


def test_a_turn_in_flight_at_the_end_may_be_stored(
    store: RedactingSQLTrackerStore, tmp_path: Path
) -> None:
    record = converse(store, sender_id(f"load-{random_tag(8)}"), ENGLISH)
    record["turns"].pop()  # sent when Locust stopped; the reply never came back
    record.update(outcome="interrupted", pending="bye")
    report = check_run(write(tmp_path / "t.jsonl", [record]), str(store.engine.url))
    assert report.ok
    assert (report.interrupted, report.unconfirmed_stored) == (1, 1)


def test_a_turn_that_raised_in_the_resident_fails_the_run(
    store: RedactingSQLTrackerStore, tmp_path: Path
) -> None:
    record = converse(store, sender_id(f"load-{random_tag(8)}"), ENGLISH)
    record["turns"].pop()
    record.update(outcome="failed", pending="bye")  # an exception, not the end
    report = check_run(write(tmp_path / "t.jsonl", [record]), str(store.engine.url))
    assert report.mismatches == []
    assert (report.failed_turns, report.interrupted, report.ok) == (1, 0, False)


def test_two_conversations_under_one_sender_id_are_refused(
    run: Any, tmp_path: Path
) -> None:
    _, url, records = run
    path = write(tmp_path / "t.jsonl", [records[0], records[0]])
    assert "shared_sender" in check_run(path, url).kinds


def test_the_cli_exits_by_outcome(run: Any, tmp_path: Path) -> None:
    path, url, records = run
    assert main([str(path), url]) == 0
    sql(
        url,
        "DELETE FROM events WHERE id = :i",
        i=user_row(url, records[0]["sender"], 0),
    )
    assert main([str(path), url]) == 1
    assert main([str(tmp_path / "absent.jsonl"), url]) == 2
    (tmp_path / "bad.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    assert main([str(tmp_path / "bad.jsonl"), url]) == 2
