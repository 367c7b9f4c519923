"""Turn reviewed conversations into training and test data for the assistant.

- ``stories_yaml``: Rasa end-to-end test stories (``stories:`` with ``user:``
  turns, the predicted intent, slots, forms and actions as they happened), for
  ``tests/`` or to replay with ``rasa test``;
- ``nlu_yaml``: the corrected user turns as NLU examples (``nlu:``) under their
  correct intents, to review and merge into ``data/nlu/``.

Both are YAML that ``rasa data validate`` accepts.  Texts are the stored,
masked ones: no ID number, code or phone number can leave in an export.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Sequence, Tuple

import yaml

from console.events import StoredEvent

SKIPPED_ACTIONS = frozenset({"action_listen", "action_session_start"})


def _single_line(text: str) -> str:
    return " ".join(str(text).split())


def story_steps(events: Sequence[StoredEvent]) -> List[Dict[str, Any]]:
    """One conversation as Rasa story steps, so reviewed chats can become training
    data."""
    steps: List[Dict[str, Any]] = []
    started = False
    for event in events:
        data = event.data
        if event.type_name == "user":
            started = True
            intent = ((data.get("parse_data") or {}).get("intent") or {}).get("name")
            text = _single_line(data.get("text") or "")
            if text.startswith("/") or not text:
                step: Dict[str, Any] = {"intent": intent or "nlu_fallback"}
                entities = [
                    {e["entity"]: e.get("value")}
                    for e in (data.get("parse_data") or {}).get("entities") or []
                    if e.get("entity")
                ]
                if entities:
                    step["entities"] = entities
                steps.append(step)
            else:
                steps.append({"user": text, "intent": intent or "nlu_fallback"})
        elif not started:
            continue
        elif event.type_name == "action":
            name = data.get("name")
            if name and name not in SKIPPED_ACTIONS:
                steps.append({"action": name})
        elif event.type_name == "slot" and data.get("name"):
            steps.append({"slot_was_set": [{data["name"]: data.get("value")}]})
        elif event.type_name == "active_loop":
            steps.append({"active_loop": data.get("name")})
    return steps


def stories_yaml(conversations: Iterable[Tuple[str, Sequence[StoredEvent]]]) -> str:
    """Conversations as a Rasa stories file ready to add to ``data/``."""
    stories = []
    for sender_id, events in conversations:
        steps = story_steps(events)
        if steps:
            stories.append(
                {"story": f"reviewed conversation {sender_id}", "steps": steps}
            )
    document = {"version": "3.1", "stories": stories}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1000)


def nlu_yaml(corrections: Iterable[Tuple[str, str]]) -> str:
    """Relabelled user texts as a Rasa NLU file, deduplicated per intent."""
    by_intent: Dict[str, List[str]] = {}
    for text, intent in corrections:
        line = _single_line(text)
        if line and not line.startswith("/") and line not in by_intent.get(intent, []):
            by_intent.setdefault(intent, []).append(line)
    lines = ['version: "3.1"', "nlu:"]
    if not by_intent:
        lines[-1] = "nlu: []"
    for intent in sorted(by_intent):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        for example in by_intent[intent]:
            lines.append(f"    - {example}")
    return "\n".join(lines) + "\n"
