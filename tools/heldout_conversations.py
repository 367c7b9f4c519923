"""Run the held-out conversation set against a running assistant and judge every turn.

The conversations (``tests/conversations_heldout/{en,zh}.yml``, format in that
folder's README) are never trained on.  Each conversation is sent over the
REST channel as a fresh user; every turn's replies (texts and button titles)
are judged:

- **wrong**: a ``never`` phrase appears (case-insensitive substring);
- **pass**: every ``must`` item has at least one alternative present;
- **asked back**: ``ask_back_ok`` is set and the reply is a question ("?"
  or "？"); counts as a pass;
- **missed**: otherwise (fell back, or did not answer).

A conversation passes only if all its turns pass.  The report (``report.json``
and ``report.md``) gives, per language, the conversation pass rate, the
wrong-answer and missed rates over all turns, the pass rate per group and,
for every failed conversation, the failing turns with the reply and reason
(``report.json`` also holds every conversation's judged transcript).

Usage::

    python -m tools.heldout_conversations --rasa-url URL --backend-url URL \\
        --out var/reports/conversations [--files tests/conversations_heldout/en.yml ...]

``--files`` takes any set in this format: the held-out set (the default) or
the development set ``tests/conversations_dev/*.yml``, whose failures
may be read while the held-out ones may not.

The demo resident (``backend.demo.DEMO_ID_NUMBER``) is verified in several
conversations, so the backend must run with generous verification limits
(``VERIFICATION_LIMITS``: per 10 minutes and per day, or the later
conversations of a run are refused as rate limited; and the per-client
message limit, as every conversation comes from one address).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import requests
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
# Every part of the held-out set (en.yml, en_fresh.yml, en_third.yml, ...):
# each written separately and first measured before any fix for it.
DEFAULT_FILES = tuple(
    sorted((REPO_ROOT / "tests" / "conversations_heldout").glob("*.yml"))
)

# Every file of the development set (``en.yml``, ``en_long.yml``, ``zh.yml``...):
# a new file there is run without touching this list.
DEV_FILES = tuple(sorted((REPO_ROOT / "tests" / "conversations_dev").glob("*.yml")))
# Backend settings a stack needs to run a whole set: the demo resident asks
# for a code in a dozen conversations per language, more than the per-ID
# limits of a real deployment (3 per 10 minutes, 10 per day) allow.
VERIFICATION_LIMITS = {
    "BACKEND_STARTS_PER_ID": "1000",
    "BACKEND_STARTS_PER_CLIENT": "1000",
    "BACKEND_STARTS_PER_ID_PER_DAY": "1000",
    # every conversation of a run comes from 127.0.0.1
    "SHEBAO_RATE_LIMIT_CLIENT": "10000/minute",
}

PASS = "pass"
ASKED_BACK = "asked_back"
WRONG = "wrong"
MISSED = "missed"
PASSING = (PASS, ASKED_BACK)

Reply = Dict[str, Any]
Sender = Callable[[str, str], List[Reply]]
"""Send ``(sender_id, text)`` to the assistant; return its replies."""
CodeSource = Callable[[str], Optional[str]]
"""The latest one-time code sent for an ID number, if any."""


@dataclass(frozen=True)
class Turn:
    """One user message and what its replies must (not) contain."""

    user: str
    must: List[List[str]] = field(default_factory=list)
    never: List[str] = field(default_factory=list)
    ask_back_ok: bool = False


@dataclass(frozen=True)
class Conversation:
    """A scripted conversation of one language and group."""

    id: str
    language: str
    group: str
    turns: List[Turn]


@dataclass
class TurnResult:
    """The judged outcome of one turn."""

    index: int
    user: str
    reply: str
    verdict: str
    reason: str = ""

    @property
    def passed(self) -> bool:
        """Whether the verdict counts as a pass."""
        return self.verdict in PASSING


@dataclass
class ConversationResult:
    """The judged turns of one conversation."""

    id: str
    language: str
    group: str
    turns: List[TurnResult]

    @property
    def passed(self) -> bool:
        """A conversation passes only if every turn does."""
        return all(turn.passed for turn in self.turns)


# ---- loading ------------------------------------------------------------------


def parse_turn(raw: Mapping[str, Any]) -> Turn:
    """A turn from its YAML mapping (``must`` items may be a bare string)."""
    must = [
        [item] if isinstance(item, str) else list(item)
        for item in raw.get("must") or []
    ]
    return Turn(
        user=str(raw["user"]),
        must=[[str(alt) for alt in item] for item in must],
        never=[str(phrase) for phrase in raw.get("never") or []],
        ask_back_ok=bool(raw.get("ask_back_ok", False)),
    )


def load_conversations(path: Path) -> List[Conversation]:
    """The conversations of one held-out file, tagged with the file's language."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    language = str(document["language"])
    return [
        Conversation(
            id=str(raw["id"]),
            language=language,
            group=str(raw["group"]),
            turns=[parse_turn(turn) for turn in raw["turns"]],
        )
        for raw in document["conversations"]
    ]


# ---- judging ------------------------------------------------------------------


def reply_text(replies: Sequence[Reply]) -> str:
    """The texts and button titles of one turn's replies, one per line."""
    parts: List[str] = []
    for reply in replies:
        if reply.get("text"):
            parts.append(str(reply["text"]))
        for button in reply.get("buttons") or []:
            if button.get("title"):
                parts.append(str(button["title"]))
    return "\n".join(parts)


def is_question(text: str) -> bool:
    """Whether a reply asks something back (an ASCII or full-width question mark)."""
    return "?" in text or "？" in text


def judge_turn(turn: Turn, reply: str) -> tuple[str, str]:
    """``(verdict, reason)`` of one turn's reply text; see the module docstring."""
    lowered = reply.lower()
    found = [phrase for phrase in turn.never if phrase.lower() in lowered]
    if found:
        return WRONG, "never phrase found: " + ", ".join(repr(p) for p in found)
    missing = [
        item for item in turn.must if not any(alt.lower() in lowered for alt in item)
    ]
    if not missing:
        return PASS, ""
    if turn.ask_back_ok and is_question(reply):
        return ASKED_BACK, "asked back instead of answering"
    if not reply.strip():
        return MISSED, "no reply"
    return MISSED, "must item missing: " + "; ".join(
        " | ".join(item) for item in missing
    )


# ---- talking to the assistant ---------------------------------------------------


def rest_sender(rasa_url: str, timeout: float = 60.0) -> Sender:
    """A sender that posts to the assistant's REST channel."""

    def send(sender_id: str, text: str) -> List[Reply]:
        response = requests.post(
            f"{rasa_url}/webhooks/rest/webhook",
            json={"sender": sender_id, "message": text},
            timeout=timeout,
        )
        response.raise_for_status()
        replies: List[Reply] = response.json()
        return replies

    return send


def outbox_code_source(backend_url: str, admin_token: str) -> CodeSource:
    """Read the latest code for an ID number from the backend's dev outbox."""

    def latest(id_number: str) -> Optional[str]:
        response = requests.get(
            f"{backend_url}/api/v1/dev/outbox",
            params={"id_number": id_number},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=10,
        )
        response.raise_for_status()
        messages = response.json().get("messages") or []
        return str(messages[-1]["code"]) if messages else None

    return latest


def fill_placeholders(text: str, demo_id: str, codes: CodeSource) -> str:
    """Substitute ``{demo_id}`` and ``{code}`` (the code read only when needed)."""
    text = text.replace("{demo_id}", demo_id)
    if "{code}" in text:
        # No code was sent (the bot never started a verification): send a code
        # that cannot be right, so the turn is judged on what the bot does.
        text = text.replace("{code}", codes(demo_id) or "000000")
    return text


def new_sender_id(run_id: str, conversation: Conversation) -> str:
    """A REST sender id unique to this run and conversation."""
    return f"heldout-{run_id}-{conversation.id}"


def run_conversation(
    conversation: Conversation,
    send: Sender,
    codes: CodeSource,
    demo_id: str,
    sender_id: str,
) -> ConversationResult:
    """Play one conversation as ``sender_id`` and judge each turn."""
    results = []
    for index, turn in enumerate(conversation.turns, start=1):
        text = fill_placeholders(turn.user, demo_id, codes)
        reply = reply_text(send(sender_id, text))
        verdict, reason = judge_turn(turn, reply)
        results.append(TurnResult(index, text, reply, verdict, reason))
    return ConversationResult(
        conversation.id, conversation.language, conversation.group, results
    )


def run_all(
    conversations: Sequence[Conversation],
    send: Sender,
    codes: CodeSource,
    demo_id: str,
    progress: Optional[Callable[[ConversationResult], None]] = None,
) -> List[ConversationResult]:
    """Play every conversation, each as a fresh user of this run."""
    run_id = uuid.uuid4().hex[:8]
    results = []
    for conversation in conversations:
        result = run_conversation(
            conversation, send, codes, demo_id, new_sender_id(run_id, conversation)
        )
        results.append(result)
        if progress:
            progress(result)
    return results


# ---- reporting ------------------------------------------------------------------


def rate(part: int, whole: int) -> float:
    """``part / whole`` rounded to 4 places (0.0 for an empty whole)."""
    return round(part / whole, 4) if whole else 0.0


def summarize_language(results: Sequence[ConversationResult]) -> Dict[str, Any]:
    """Figures of one language's results (see the module docstring)."""
    turns = [turn for result in results for turn in result.turns]
    verdicts = Counter(turn.verdict for turn in turns)
    groups: Dict[str, List[ConversationResult]] = defaultdict(list)
    for result in results:
        groups[result.group].append(result)
    return {
        "conversations": len(results),
        "passed": sum(result.passed for result in results),
        "pass_rate": rate(sum(result.passed for result in results), len(results)),
        "turns": len(turns),
        "turn_verdicts": {
            v: verdicts.get(v, 0) for v in (PASS, ASKED_BACK, WRONG, MISSED)
        },
        "wrong_rate": rate(verdicts.get(WRONG, 0), len(turns)),
        "missed_rate": rate(verdicts.get(MISSED, 0), len(turns)),
        "groups": {
            group: {
                "conversations": len(members),
                "passed": sum(m.passed for m in members),
                "pass_rate": rate(sum(m.passed for m in members), len(members)),
            }
            for group, members in sorted(groups.items())
        },
        "results": [
            {
                "id": result.id,
                "group": result.group,
                "passed": result.passed,
                "turns": [asdict(t) for t in result.turns],
            }
            for result in results
        ],
        "failures": [
            {
                "id": result.id,
                "group": result.group,
                "failed_turns": [asdict(t) for t in result.turns if not t.passed],
                "transcript": [asdict(t) for t in result.turns],
            }
            for result in results
            if not result.passed
        ],
    }


def summarize(results: Sequence[ConversationResult]) -> Dict[str, Dict[str, Any]]:
    """Per-language figures, languages in first-seen order."""
    by_language: Dict[str, List[ConversationResult]] = {}
    for result in results:
        by_language.setdefault(result.language, []).append(result)
    return {lang: summarize_language(members) for lang, members in by_language.items()}


def gate_problems(
    summary: Dict[str, Dict[str, Any]], min_pass: Dict[str, float], max_wrong: float
) -> List[str]:
    """Each way ``summary`` misses its gates: a pass rate below ``min_pass`` of its
    language, a wrong-answer rate above ``max_wrong``."""
    problems = []
    for lang, figures in summary.items():
        if figures["pass_rate"] < min_pass[lang]:
            problems.append(
                f"{lang}: pass rate {figures['pass_rate']:.3f} < {min_pass[lang]}"
            )
        if figures["wrong_rate"] > max_wrong:
            problems.append(
                f"{lang}: wrong-answer rate {figures['wrong_rate']:.3f} > {max_wrong}"
            )
    return problems


def summary_table(summary: Mapping[str, Mapping[str, Any]]) -> str:
    """A fixed-width table: one row per language."""
    header = f"{'lang':<5} {'convs':>5} {'passed':>6} {'pass':>6} {'turns':>5} {'wrong':>6} {'missed':>6}"
    rows = [header, "-" * len(header)]
    for lang, figures in summary.items():
        rows.append(
            f"{lang:<5} {figures['conversations']:>5} {figures['passed']:>6} "
            f"{figures['pass_rate']:>6.1%} {figures['turns']:>5} "
            f"{figures['wrong_rate']:>6.1%} {figures['missed_rate']:>6.1%}"
        )
    return "\n".join(rows)


def quote(text: str) -> str:
    """A reply as a Markdown blockquote (empty replies marked)."""
    if not text.strip():
        return "> *(no reply)*"
    return "\n".join("> " + line for line in text.splitlines())


def markdown_report(summary: Mapping[str, Mapping[str, Any]]) -> str:
    """The readable report: figures, per-group rates and every failure."""
    lines = ["# Held-out conversations", "", "```", summary_table(summary), "```", ""]
    for lang, figures in summary.items():
        verdicts = figures["turn_verdicts"]
        lines += [
            f"## {lang}",
            "",
            f"- conversations passed: {figures['passed']}/{figures['conversations']}"
            f" ({figures['pass_rate']:.1%})",
            f"- turns: {figures['turns']} — pass {verdicts[PASS]}, asked back "
            f"{verdicts[ASKED_BACK]}, wrong {verdicts[WRONG]} ({figures['wrong_rate']:.1%}),"
            f" missed {verdicts[MISSED]} ({figures['missed_rate']:.1%})",
            "",
            "| group | passed | pass rate |",
            "|---|---|---|",
        ]
        for group, g in figures["groups"].items():
            lines.append(
                f"| {group} | {g['passed']}/{g['conversations']} | {g['pass_rate']:.0%} |"
            )
        lines += ["", f"### Failed conversations ({lang})", ""]
        for failure in figures["failures"]:
            lines += [f"#### {failure['id']} ({failure['group']})", ""]
            for turn in failure["transcript"]:
                verdict = turn["verdict"]
                mark = f"**{verdict}**" if verdict not in PASSING else verdict
                reason = f": {turn['reason']}" if verdict not in PASSING else ""
                lines += [
                    f"Turn {turn['index']} — {mark}{reason}",
                    "",
                    f"User: {turn['user']}",
                    "",
                    quote(turn["reply"]),
                    "",
                ]
    return "\n".join(lines)


def write_report(
    summary: Mapping[str, Mapping[str, Any]], out_dir: Path
) -> Dict[str, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md"}
    paths["json"].write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    paths["md"].write_text(markdown_report(summary), encoding="utf-8")
    return paths


def evaluate(
    rasa_url: str,
    backend_url: str,
    out_dir: Path,
    files: Sequence[Path] = DEFAULT_FILES,
    quiet: bool = False,
) -> Dict[str, Dict[str, Any]]:
    """Run the held-out files against a running stack; write and return the summary."""
    from backend.demo import DEMO_ID_NUMBER
    from backend.settings import DEV_ADMIN_TOKEN

    conversations = [c for path in files for c in load_conversations(Path(path))]

    def progress(result: ConversationResult) -> None:
        if not quiet:
            print(f"{'PASS' if result.passed else 'FAIL'} {result.id}", flush=True)

    results = run_all(
        conversations,
        rest_sender(rasa_url),
        outbox_code_source(backend_url, DEV_ADMIN_TOKEN),
        DEMO_ID_NUMBER,
        progress,
    )
    summary = summarize(results)
    write_report(summary, out_dir)
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; prints the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa-url", required=True)
    parser.add_argument("--backend-url", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--files", type=Path, nargs="+", default=list(DEFAULT_FILES))
    parser.add_argument(
        "--quiet", action="store_true", help="no per-conversation lines"
    )
    args = parser.parse_args(argv)
    summary = evaluate(
        args.rasa_url, args.backend_url, args.out, args.files, args.quiet
    )
    print(summary_table(summary))
    print(f"report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
