"""The overlap guard: no held-out or development message is a training example.

The held-out sets (``tests/nlu_heldout.yml``, ``tests/conversations_heldout/``)
and the development conversations (``tests/conversations_dev/``) measure how
the assistant does on messages it never saw; an example copied (or typed again)
into ``data/`` would make them measure memory.  Messages are compared after
lower-casing and dropping spaces and punctuation.  A failure names only the
training example, never the rest of a held-out file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterator, Set

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAINING = sorted((REPO_ROOT / "data").rglob("*.yml"))
CONVERSATION_SETS = [
    *sorted((REPO_ROOT / "tests" / "conversations_heldout").glob("*.yml")),
    *sorted((REPO_ROOT / "tests" / "conversations_dev").glob("*.yml")),
]
NLU_HELDOUT = REPO_ROOT / "tests" / "nlu_heldout.yml"

_NOISE = re.compile(r"[\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


def normalised(text: str) -> str:
    """A message for comparison: entity annotations unwrapped, case and punctuation dropped."""
    text = _ANNOTATION.sub(lambda m: m.group(1) or m.group(2) or "", text)
    return _NOISE.sub("", text.lower())


def substantial(text: str) -> bool:
    """A message one could only have copied: 4+ words or 8+ Chinese characters.

    "bye", "urban" or "谢谢" are in every set and in the training data by
    necessity; the guard is about sentences.
    """
    return len(_WORD.findall(text)) >= 4 or len(_CJK.findall(text)) >= 8


def nlu_examples(path: Path) -> Iterator[str]:
    """The examples of one Rasa NLU file (other sections ignored)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for block in document.get("nlu") or []:
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield line[2:]


def conversation_messages(path: Path) -> Iterator[str]:
    """The user turns of one conversation set."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for conversation in document.get("conversations") or []:
        for turn in conversation.get("turns") or []:
            yield str(turn.get("user") or "")


def training_examples() -> Dict[str, str]:
    """Normalised training example -> where it is (file: example)."""
    found: Dict[str, str] = {}
    for path in TRAINING:
        for example in nlu_examples(path):
            found.setdefault(
                normalised(example), f"{path.relative_to(REPO_ROOT)}: {example}"
            )
    return found


def evaluation_messages() -> Set[str]:
    """Every substantial held-out and development message, normalised."""
    raw = [m for path in CONVERSATION_SETS for m in conversation_messages(path)]
    if NLU_HELDOUT.exists():
        raw += list(nlu_examples(NLU_HELDOUT))
    return {normalised(m) for m in raw if substantial(m)}


def test_the_guard_sees_training_and_evaluation_data() -> None:
    assert len(training_examples()) > 1000
    assert len(evaluation_messages()) > 100
    assert not substantial("bye") and substantial("how do I pay it")


def test_no_evaluation_message_is_a_training_example() -> None:
    evaluation = evaluation_messages()
    leaked = sorted(
        where for text, where in training_examples().items() if text in evaluation
    )
    assert not leaked, (
        f"{len(leaked)} training examples are held-out or development messages; "
        "replace them with new ones:\n" + "\n".join(leaked)
    )
