"""The "nothing lost" check: every conversation of a load run is in the store, exactly.

Reads the transcripts a Locust run wrote (``bench/locustfile.py``: per
conversation its sender, the texts sent and the replies received, in order)
and the tracker store's ``events`` table (SQLite or PostgreSQL URL), and for
every conversation checks, turn by turn in the store's order (row id, as
Rasa reads a conversation back):

- the stored user events are exactly the texts sent, in order: no turn lost,
  duplicated, reordered or taken from another conversation;
- the bot events stored after each user event are exactly the replies that
  turn received (a stored bot event becomes REST messages the way Rasa's
  ``CollectingOutputChannel`` makes them: text split at blank lines, buttons
  with their text, then custom, image, attachment, elements);
- nothing else is stored under a sender of the run: no extra turn, no bot
  message before the first user message, no conversation no resident held.

The store masks personal data before writing, so both sides are compared
after the same masking (``common.redaction``); the residents' texts hold none.
REST senders are stored as ``rest:<sender>`` (``bot/channels/rest.py``), and
verbatim because the residents' sender ids are letters only
(``bot.tracker_store.stored_sender_id``).

A turn that got no valid answer (a 5xx, a timeout) is reported as failed;
that turn may or may not be stored, both are accepted for it, and so for a
request still in flight when Locust stopped (``interrupted``).  The run is
``ok`` only with no mismatch and no failed turn; ``acknowledged_kept`` (a run
that killed processes on purpose, ``--allow-failed``) only asks for no mismatch.

Usage: ``python -m bench.load_check TRANSCRIPTS.jsonl TRACKER_URL`` (exit 1
on any mismatch or failed turn, 2 on unreadable input).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import sqlalchemy as sa

from common.redaction import redact_text, redact_value

REST_PREFIX = "rest:"  # bot/channels/rest.py SENDER_PREFIX
Message = Dict[str, Any]
StoredTurn = Tuple[str, List[Message]]  # user text, the bot's messages after it
MAX_SHOWN = 20


@dataclass
class Report:
    """Counts of what was checked and every mismatch found."""

    conversations: int = 0
    turns_sent: int = 0
    turns_checked: int = 0
    user_events: int = 0
    bot_events: int = 0
    failed_turns: int = 0
    interrupted: int = 0
    unconfirmed_stored: int = 0  # failed or interrupted turns the store has
    outcomes: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    mismatches: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated, interleaved or foreign, and no failed turn."""
        return not self.mismatches and self.failed_turns == 0

    @property
    def acknowledged_kept(self) -> bool:
        """Every acknowledged turn stored exactly, nothing foreign; failed turns allowed.

        For runs that kill processes on purpose: a turn that got no 200 with
        replies may or may not be stored (the comparison already accepts
        both, for it alone), every turn that did must be, exactly.  Whether
        the failures were only the requests in flight at the kill is the
        caller's to judge (each turn records when it was sent).
        """
        return not self.mismatches

    def mismatch(self, kind: str, sender: str, detail: str) -> None:
        """Record one mismatch of ``kind`` in ``sender``'s conversation."""
        self.kinds[kind] += 1
        self.mismatches.append(f"{kind}: {sender}: {detail}")


def read_transcripts(path: Path) -> List[Dict[str, Any]]:
    """The conversation records of a run, one per JSON line."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(
                record.get("sender"), str
            ):
                raise ValueError(f"{path}:{number}: not a conversation record")
            records.append(record)
    return records


def delivered_messages(event: Mapping[str, Any]) -> List[Message]:
    """The REST messages a stored bot event was delivered as (Rasa 3.6's channel)."""
    data = event.get("data") or {}
    text = event.get("text")
    buttons = data.get("quick_replies") or data.get("buttons")
    messages: List[Message] = []
    if buttons:
        messages.append({"text": text, "buttons": buttons})
    elif text:
        messages.extend({"text": part} for part in text.strip().split("\n\n"))
    for key in ("custom", "image", "attachment", "elements"):
        if data.get(key):
            messages.append({key: data[key]})
    return messages


def received_messages(replies: Sequence[Mapping[str, Any]]) -> List[Message]:
    """The replies of one turn as the store would hold them (masked)."""
    masked = redact_value([dict(m) for m in replies])
    return list(masked) if isinstance(masked, list) else []


def stored_turns(
    sender: str, events: Sequence[Mapping[str, Any]], report: Report
) -> List[StoredTurn]:
    """User events with the bot messages after each; bot messages before any user is a mismatch."""
    turns: List[StoredTurn] = []
    for event in events:
        if event.get("event") == "user":
            report.user_events += 1
            turns.append((str(event.get("text") or ""), []))
        elif event.get("event") == "bot":
            report.bot_events += 1
            if not turns:
                report.mismatch(
                    "bot_before_user",
                    sender,
                    f"bot message before the first user message: {event.get('text')!r}",
                )
                continue
            turns[-1][1].extend(delivered_messages(event))
    return turns


def check_conversation(
    record: Mapping[str, Any],
    events: Optional[Sequence[Mapping[str, Any]]],
    report: Report,
) -> None:
    """Compare one conversation's record with its stored events."""
    sender = record["sender"]
    turns = record.get("turns") or []
    report.conversations += 1
    report.outcomes[str(record.get("outcome"))] += 1
    answered = [t for t in turns if "replies" in t]
    uncertain: Optional[str] = None
    report.failed_turns += len(turns) - len(answered)
    if turns and "replies" not in turns[-1]:
        # a resident gives up its conversation at the first failed turn
        uncertain = str(turns[-1].get("text"))
    if record.get("pending") is not None:  # sent; no answer ever came back
        if record.get("outcome") == "interrupted":
            report.interrupted += 1  # by the end of the run
        else:
            report.failed_turns += 1
        uncertain = str(record["pending"])
    report.turns_sent += len(turns) + (1 if record.get("pending") is not None else 0)
    if events is None:
        if answered:
            report.mismatch("missing", sender, "no event of this conversation stored")
        return
    stored = stored_turns(sender, events, report)
    for index, turn in enumerate(answered):
        if index >= len(stored):
            report.mismatch(
                "lost_turn",
                sender,
                f"the store has {len(stored)} of {len(answered)} answered turns; "
                f"turn {index + 1} ({turn['text']!r}) is missing",
            )
            return
        text, messages = stored[index]
        if text != redact_text(str(turn["text"])):
            report.mismatch(
                _divergence(text, answered, index),
                sender,
                f"turn {index + 1}: stored {text!r}, sent {turn['text']!r}",
            )
            return
        if messages != received_messages(turn["replies"]):
            report.mismatch(
                "replies",
                sender,
                f"turn {index + 1} ({turn['text']!r}): stored {messages!r}, "
                f"received {turn['replies']!r}",
            )
            return
        report.turns_checked += 1
    extra = stored[len(answered) :]
    if extra and uncertain is not None and extra[0][0] == redact_text(uncertain):
        report.unconfirmed_stored += 1
        extra = extra[1:]
    if extra:
        report.mismatch(
            "extra_turn",
            sender,
            f"{len(extra)} stored turn(s) no resident sent or got no answer to; "
            f"first: {extra[0][0]!r}",
        )


def _divergence(stored: str, answered: Sequence[Mapping[str, Any]], index: int) -> str:
    """Name what a stored user text that is not the sent one most likely means."""
    sent = [redact_text(str(t["text"])) for t in answered]
    if index + 1 < len(sent) and stored == sent[index + 1]:
        return "lost_turn"  # the store skips from this turn to the next one
    if index > 0 and stored == sent[index - 1]:
        return "duplicated_turn"
    return "user_text"  # another conversation's turn, or a changed one


def check(
    records: Sequence[Mapping[str, Any]],
    events_by_sender: Mapping[str, Sequence[Mapping[str, Any]]],
) -> Report:
    """Compare every record with the stored events of the run's senders.

    ``events_by_sender`` maps stored sender ids (``rest:<sender>``) to their
    event dicts in store order; it should hold every stored conversation of
    the run (see :func:`run_prefixes`), so foreign ones are found too.
    """
    report = Report()
    seen: Dict[str, int] = Counter()
    for record in records:
        seen[record["sender"]] += 1
    for sender, count in seen.items():
        if count > 1:
            report.mismatch(
                "shared_sender", sender, f"{count} conversations used this sender id"
            )
    for record in records:
        check_conversation(
            record, events_by_sender.get(REST_PREFIX + record["sender"]), report
        )
    held = {REST_PREFIX + sender for sender in seen}
    for stored_sender in events_by_sender:
        if stored_sender not in held:
            report.mismatch(
                "foreign_conversation",
                stored_sender,
                "stored under the run's sender prefix, but no resident held it",
            )
    return report


def run_prefixes(records: Iterable[Mapping[str, Any]]) -> List[str]:
    """The stored sender prefixes of the run(s): ``rest:load-<tag>-``."""
    prefixes = set()
    for record in records:
        sender = record["sender"]
        head, sep, _ = sender.rpartition("-")
        prefixes.add(REST_PREFIX + (head + sep if sep else sender))
    return sorted(prefixes)


def stored_events(
    tracker_url: str, prefixes: Sequence[str]
) -> Dict[str, List[Dict[str, Any]]]:
    """User and bot events of every stored sender starting with one of ``prefixes``."""
    conversations: Dict[str, List[Dict[str, Any]]] = OrderedDict()
    engine = sa.create_engine(tracker_url)
    query = sa.text(
        "SELECT sender_id, data FROM events WHERE sender_id LIKE :prefix "
        "AND type_name IN ('user', 'bot') ORDER BY id"
    )
    try:
        with engine.connect() as connection:
            for prefix in prefixes:
                if not prefix.replace(":", "").replace("-", "").isalnum():
                    raise ValueError(f"unexpected sender prefix {prefix!r}")
                for sender, data in connection.execute(query, {"prefix": prefix + "%"}):
                    conversations.setdefault(sender, []).append(json.loads(data))
    finally:
        engine.dispose()
    return conversations


def check_run(transcripts: Path, tracker_url: str) -> Report:
    """Read a run's transcripts and the store, and compare them."""
    records = read_transcripts(transcripts)
    return check(records, stored_events(tracker_url, run_prefixes(records)))


def print_report(report: Report, out: Any = None) -> None:
    """Counts, then the first mismatches."""
    out = out or sys.stdout
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
    print(
        f"conversations {report.conversations} ({outcomes}); turns sent "
        f"{report.turns_sent}, checked {report.turns_checked}; stored user events "
        f"{report.user_events}, bot events {report.bot_events}; failed turns "
        f"{report.failed_turns}, interrupted {report.interrupted} "
        f"(of them stored: {report.unconfirmed_stored})",
        file=out,
    )
    if report.kinds:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.kinds.items()))
        print(f"MISMATCHES {len(report.mismatches)}: {kinds}", file=out)
        for line in report.mismatches[:MAX_SHOWN]:
            print(f"  {line}", file=out)
    print("nothing lost" if report.ok else "CHECK FAILED", file=out)


def main(argv: Optional[List[str]] = None) -> int:
    """CLI: exit 0 when nothing was lost, 1 on a mismatch, 2 on unreadable input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transcripts", type=Path, help="JSONL of bench/locustfile.py")
    parser.add_argument("tracker_url", help="the tracker store (SQLAlchemy URL)")
    parser.add_argument(
        "--allow-failed",
        action="store_true",
        help="turns without an answer are no failure (a run that killed processes)",
    )
    args = parser.parse_args(argv)
    try:
        report = check_run(args.transcripts, args.tracker_url)
    except (OSError, ValueError, sa.exc.SQLAlchemyError) as error:
        print(f"cannot check: {error}", file=sys.stderr)
        return 2
    print_report(report)
    kept = report.acknowledged_kept if args.allow_failed else report.ok
    return 0 if kept else 1


if __name__ == "__main__":
    sys.exit(main())
