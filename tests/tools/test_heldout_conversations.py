"""The held-out conversation runner's judging and reporting, on hand-made replies (no stack)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from tools.heldout_conversations import (
    ASKED_BACK,
    DEFAULT_FILES,
    MISSED,
    PASS,
    WRONG,
    Conversation,
    Reply,
    Turn,
    fill_placeholders,
    judge_turn,
    load_conversations,
    main,
    reply_text,
    run_all,
    summarize,
    summary_table,
    write_report,
)

TURN = Turn(
    user="where do I go?",
    must=[["agency", "bureau"], ["ID card"]],
    never=["village committee"],
)


def test_every_must_item_matched_case_insensitively_passes() -> None:
    assert judge_turn(TURN, "Go to the Social Security BUREAU with your id card.") == (
        PASS,
        "",
    )


def test_a_never_phrase_is_wrong_even_when_every_must_item_matches() -> None:
    verdict, reason = judge_turn(TURN, "The agency or the Village Committee; ID card.")
    assert verdict == WRONG and "village committee" in reason


def test_a_missing_must_item_is_missed_and_named() -> None:
    verdict, reason = judge_turn(TURN, "Go to the agency.")
    assert verdict == MISSED and "ID card" in reason and "agency" not in reason


def test_a_question_back_passes_only_where_allowed() -> None:
    allowed = Turn(user="how much do I owe?", must=[["2025"]], ask_back_ok=True)
    assert judge_turn(allowed, "What is your ID number?")[0] == ASKED_BACK
    assert judge_turn(allowed, "请问您的身份证号是多少？")[0] == ASKED_BACK
    assert judge_turn(allowed, "Please type your ID number.")[0] == MISSED
    assert judge_turn(TURN, "Which city are you in?")[0] == MISSED


def test_a_turn_without_expectations_passes_unless_forbidden() -> None:
    assert judge_turn(Turn(user="hi"), "")[0] == PASS
    assert (
        judge_turn(Turn(user="hi", never=["ID number"]), "Your id number?")[0] == WRONG
    )


def test_no_reply_is_missed() -> None:
    assert judge_turn(TURN, "") == (MISSED, "no reply")


def test_reply_text_joins_texts_and_button_titles() -> None:
    replies: List[Reply] = [
        {"recipient_id": "u", "text": "Urban or agricultural?"},
        {"buttons": [{"title": "Urban", "payload": "/x"}, {"title": "Rural"}]},
        {"image": "https://example.invalid/a.png"},
    ]
    assert reply_text(replies) == "Urban or agricultural?\nUrban\nRural"


def test_placeholders_read_the_code_only_when_a_turn_needs_it() -> None:
    asked: List[str] = []

    def codes(id_number: str) -> Optional[str]:
        asked.append(id_number)
        return "123456"

    assert fill_placeholders("it's {demo_id}", "ID1", codes) == "it's ID1"
    assert asked == []
    assert fill_placeholders("code {code}", "ID1", codes) == "code 123456"
    assert asked == ["ID1"]
    assert fill_placeholders("{code}", "ID1", lambda _: None) == "000000"


def _conversations() -> List[Conversation]:
    return [
        Conversation(
            "en-a",
            "en",
            "g1",
            [
                Turn("my ID is {demo_id}", must=[["code"]]),
                Turn("{code}", must=[["2025"]]),
            ],
        ),
        Conversation("en-b", "en", "g2", [Turn("bye", must=[["bye"]], never=["ID"])]),
        Conversation("zh-a", "zh", "g1", [Turn("你好", must=[["您好"]])]),
    ]


def _fake_bot() -> Dict[str, List[str]]:
    return {
        "my ID is DEMO": ["Type the code we sent."],
        "654321": ["**2025**: 6 months paid"],
        "bye": ["Please type your ID number."],
        "你好": ["Hello!"],
    }


def test_run_all_sends_fresh_senders_and_judges_each_turn(tmp_path: Path) -> None:
    bot = _fake_bot()
    sent: List[tuple[str, str]] = []

    def send(sender_id: str, text: str) -> List[Reply]:
        sent.append((sender_id, text))
        return [{"text": t} for t in bot[text]]

    results = run_all(_conversations(), send, lambda _: "654321", "DEMO")
    assert [text for _, text in sent] == ["my ID is DEMO", "654321", "bye", "你好"]
    senders = [sender for sender, _ in sent]
    assert senders[0] == senders[1] and len(set(senders)) == 3
    assert [r.passed for r in results] == [True, False, False]

    summary = summarize(results)
    assert summary["en"]["pass_rate"] == 0.5 and summary["zh"]["pass_rate"] == 0.0
    assert summary["en"]["wrong_rate"] == round(1 / 3, 4)
    assert summary["zh"]["missed_rate"] == 1.0
    assert summary["en"]["groups"]["g2"] == {
        "conversations": 1,
        "passed": 0,
        "pass_rate": 0.0,
    }
    assert [r["passed"] for r in summary["en"]["results"]] == [True, False]
    (failure,) = summary["en"]["failures"]
    assert failure["id"] == "en-b"
    assert "'ID'" in failure["failed_turns"][0]["reason"]
    assert "en " in summary_table(summary) and "zh " in summary_table(summary)

    paths = write_report(summary, tmp_path / "out")
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == summary
    report = paths["md"].read_text(encoding="utf-8")
    assert "en-b" in report and "zh-a" in report and "en-a" not in report


def test_the_held_out_files_load_with_unique_ids_of_their_language() -> None:
    for path in DEFAULT_FILES:
        conversations = load_conversations(path)
        assert conversations
        ids = [c.id for c in conversations]
        assert len(ids) == len(set(ids))
        assert all(c.id.startswith(c.language + "-") and c.turns for c in conversations)


def test_main_requires_the_urls(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--out", "x"])
    assert exit.value.code == 2
    assert "--rasa-url" in capsys.readouterr().err
