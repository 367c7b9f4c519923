"""The held-out conversation set, end to end, on the conversation sets' own assistant.

That stack (``conversation_stack``, tests/e2e/conftest.py) runs with generous
verification limits (``VERIFICATION_LIMITS``): the demo resident is verified in
many conversations, more than the default 3 codes per ID per 10 minutes and 10
per day allow.
The report goes to ``var/reports/conversations/`` (a build artifact).

The gates are the issue's targets (0.95 en, 0.92 zh, 0.01 wrong); they were a
ratchet below them until the NLU reached them.  Override with ``HELDOUT_MIN_PASS_EN``, ``HELDOUT_MIN_PASS_ZH`` and
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

# The targets (issue 10): 0.95 en, 0.92 zh, at most 1% wrong-answer
# turns per language. Measured at the fifth NLU pass: 100% / 100% / 0.0% on
# both parts (see README "Testing"); the second part, run once before any fix
# was made for it, passed 39/40 in each language.
MIN_PASS = {
    "en": float(os.environ.get("HELDOUT_MIN_PASS_EN", "0.95")),
    "zh": float(os.environ.get("HELDOUT_MIN_PASS_ZH", "0.92")),
}
MAX_WRONG = float(os.environ.get("HELDOUT_MAX_WRONG", "0.01"))


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
