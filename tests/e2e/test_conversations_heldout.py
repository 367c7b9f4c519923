"""The held-out conversation set, end to end, on the conversation sets' own assistant.

That stack (``conversation_stack``, tests/e2e/conftest.py) runs with generous
verification limits (``VERIFICATION_LIMITS``): the demo resident is verified in
many conversations, more than the default 3 codes per ID per 10 minutes and 10
per day allow.
The report goes to ``var/reports/conversations/`` (a build artifact).

The gates are a ratchet at the figures measured when the runner was added
(pass rates rounded down to 0.05, the wrong-answer rate up to 0.01); they stop
regressions, and go up as the NLU improves (targets: 0.95 en, 0.92 zh, 0.01
wrong).  Override with ``HELDOUT_MIN_PASS_EN``, ``HELDOUT_MIN_PASS_ZH`` and
``HELDOUT_MAX_WRONG`` (the wrong-answer rate applies to each language).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.devstack import Stack
from tools.heldout_conversations import evaluate, gate_problems, summary_table

pytestmark = pytest.mark.stack

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_DIR = REPO_ROOT / "var" / "reports" / "conversations"

# A ratchet one step below the figures measured when it was last raised
# (en 93.8 %, zh 91.6 %, worst wrong-answer rate 0.8 %; see README "Testing"), so
# a regression fails while a retrain's small drift (one conversation) does not.
# The targets are 0.95 / 0.92 / 0.01.
MIN_PASS = {
    "en": float(os.environ.get("HELDOUT_MIN_PASS_EN", "0.92")),
    "zh": float(os.environ.get("HELDOUT_MIN_PASS_ZH", "0.90")),
}
MAX_WRONG = float(os.environ.get("HELDOUT_MAX_WRONG", "0.02"))


def test_heldout_conversations_meet_the_gates(conversation_stack: Stack) -> None:
    summary = evaluate(
        conversation_stack.rasa_url,
        conversation_stack.backend_url,
        REPORT_DIR,
        quiet=True,
    )
    print("\n" + summary_table(summary))
    assert set(summary) == {"en", "zh"}
    problems = gate_problems(summary, MIN_PASS, MAX_WRONG)
    assert not problems, "; ".join(problems) + f" (see {REPORT_DIR / 'report.md'})"
