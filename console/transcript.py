"""A conversation's stored events as turns staff can read.

Each turn starts with a user message (masked as stored) and lists what followed:
the actions, the bot's responses, slots set and forms started or ended.  Events
before the first user message (session start) form a turn without a user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional

from console.events import StoredEvent
from console.summarize import LOCAL_TZ, is_fallback_event, user_intent

HIDDEN_ACTIONS = frozenset({"action_listen", "action_session_start"})
HANDOFF_INTENTS = frozenset({"request_human"})


@dataclass
class Step:
    """One thing the bot did in a turn, as the transcript shows it."""

    kind: str  # action | bot | slot | loop
    text: str
    detail: str = ""
    fallback: bool = False
    handoff: bool = False


@dataclass
class UserTurn:
    """What the user said, with the NLU prediction a reviewer needs to judge it."""

    event_id: int
    text: str
    time: str
    intent: Optional[str]
    confidence: Optional[float]
    runner_up: Optional[str]
    runner_up_confidence: Optional[float]
    entities: List[Dict[str, Any]]
    channel: str
    fallback: bool = False
    handoff: bool = False


@dataclass
class Turn:
    """A user message and the bot steps that followed it."""

    user: Optional[UserTurn]
    steps: List[Step] = field(default_factory=list)

    @property
    def fallback(self) -> bool:
        """Whether the turn fell back, so the transcript can highlight it."""
        return bool(self.user and self.user.fallback) or any(
            s.fallback for s in self.steps
        )

    @property
    def handoff(self) -> bool:
        """Whether the turn handed off to a person, so the transcript can highlight
        it."""
        return bool(self.user and self.user.handoff) or any(
            s.handoff for s in self.steps
        )


def format_time(timestamp: float) -> str:
    """A timestamp in the service's time zone, as staff read it."""
    return datetime.fromtimestamp(timestamp, LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _user_turn(event: StoredEvent) -> UserTurn:
    data = event.data
    parse = data.get("parse_data") or {}
    intent, confidence = user_intent(data)
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != intent]
    runner = ranking[0] if ranking else {}
    entities = [
        {
            "entity": e.get("entity"),
            "value": e.get("value"),
            "extractor": e.get("extractor"),
        }
        for e in parse.get("entities") or []
    ]
    return UserTurn(
        event_id=event.id,
        text=str(data.get("text") or ""),
        time=format_time(event.timestamp),
        intent=intent,
        confidence=confidence,
        runner_up=runner.get("name"),
        runner_up_confidence=runner.get("confidence"),
        entities=entities,
        channel=str(data.get("input_channel") or ""),
        fallback=is_fallback_event(event),
        handoff=intent in HANDOFF_INTENTS,
    )


def build_turns(events: List[StoredEvent]) -> List[Turn]:
    """Group the events into turns; steps before the first user message go first."""
    turns: List[Turn] = [Turn(user=None)]
    for event in events:
        data = event.data
        kind = event.type_name
        if kind == "user":
            turns.append(Turn(user=_user_turn(event)))
            continue
        turn = turns[-1]
        if kind == "action":
            name = str(data.get("name") or "")
            if name in HIDDEN_ACTIONS:
                continue
            policy = data.get("policy") or ""
            confidence = data.get("confidence")
            detail = f"{policy} {confidence:.2f}" if confidence is not None else policy
            turn.steps.append(
                Step(
                    "action",
                    name,
                    detail.strip(),
                    fallback=is_fallback_event(event),
                    handoff="human" in name or "handoff" in name,
                )
            )
        elif kind == "bot":
            turn.steps.append(
                Step(
                    "bot",
                    str(data.get("text") or ""),
                    str((data.get("metadata") or {}).get("utter_action") or ""),
                    fallback=is_fallback_event(event),
                )
            )
        elif kind == "slot":
            name = str(data.get("name") or "")
            value = data.get("value")
            turn.steps.append(
                Step(
                    "slot",
                    name,
                    "null" if value is None else str(value),
                    handoff=name == "handoff_requested" and value is True,
                )
            )
        elif kind == "active_loop":
            turn.steps.append(Step("loop", str(data.get("name") or "—")))
    if turns[0].user is None and not turns[0].steps:
        turns.pop(0)
    return turns
