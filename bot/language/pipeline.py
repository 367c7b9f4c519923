"""Build the project's spaCy pipeline from code (no model download).

The pipeline is a blank ``zh`` language with a jieba segmenter that knows the
domain vocabulary (:mod:`bot.language.tokenizer`; jieba also splits English
words on spaces and punctuation) plus an ``entity_ruler`` holding the domain
phrases of :mod:`common.vocabulary`.  Rasa loads it by path via
``SpacyNLP`` (see ``config.yml``).

Chinese phrases are turned into token patterns for every way jieba segments
them in typical sentences ("城镇户口" can come out as one token or as
"城镇 / 户口"), so a phrase matches whatever its neighbours are.

Usage: ``python -m bot.language.pipeline var/spacy/zh_shebao``
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

import spacy
from spacy.language import Language

from bot.language.tokenizer import TOKENIZER_NAME
from common.language import CJK
from common.vocabulary import ENTITY_PHRASES, iter_phrases

PIPELINE_VERSION = "2"

# Carrier sentences that put a phrase in the contexts residents write it in; a
# phrase may still be cut differently next to some words, and every cut seen
# here becomes a pattern.
_CONTEXTS = (
    "{}",
    "我是{}",
    "我是{}的",
    "我是{}，怎么交医保",
    "{}怎么交",
    "{}的人",
    "带{}去",
    "需要{}吗",
    "什么是{}",
    "{}在哪里办",
    "去{}",
    "我的{}丢了",
    "我有{}",
    "没有{}怎么办",
    "我是{}户口",
    "要带{}和身份证",
    "到{}办理",
    "由{}通知",
)


def blank_pipeline() -> Language:
    """A blank Chinese pipeline with the domain-aware jieba segmenter."""
    return spacy.blank(
        "zh", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_NAME}}}
    )


def _segmentations(nlp: Language, phrase: str) -> Set[Tuple[str, ...]]:
    """The token sequences jieba produces for ``phrase`` across the carrier sentences."""
    found: Set[Tuple[str, ...]] = set()
    for context in _CONTEXTS:
        text = context.format(phrase)
        start = context.index("{}")
        end = start + len(phrase)
        tokens = [
            t for t in nlp.make_doc(text) if t.idx < end and t.idx + len(t) > start
        ]
        if (
            tokens
            and tokens[0].idx == start
            and tokens[-1].idx + len(tokens[-1]) == end
        ):
            found.add(tuple(t.text for t in tokens))
    return found


def entity_patterns(nlp: Language) -> List[Dict]:
    """Entity-ruler patterns (with canonical ``id``) for every domain phrase."""
    patterns: List[Dict] = []
    for label, value, phrase in iter_phrases():
        if CJK.search(phrase):
            for tokens in sorted(_segmentations(nlp, phrase)):
                patterns.append(
                    {
                        "label": label,
                        "id": value,
                        "pattern": [{"TEXT": t} for t in tokens],
                    }
                )
        else:
            patterns.append(
                {
                    "label": label,
                    "id": value,
                    "pattern": [{"LOWER": t.lower_} for t in nlp.make_doc(phrase)],
                }
            )
    return patterns


def build_pipeline() -> Language:
    """The complete pipeline: jieba tokenizer + domain entity ruler."""
    nlp = blank_pipeline()
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    ruler.add_patterns(entity_patterns(nlp))  # type: ignore[attr-defined]
    nlp.meta["name"] = "shebao"
    nlp.meta["version"] = f"{PIPELINE_VERSION}.0.0"
    return nlp


def fingerprint() -> str:
    """Hash of what the pipeline is built from; a changed table means a rebuild."""
    payload = json.dumps(
        [PIPELINE_VERSION, ENTITY_PHRASES, _CONTEXTS], ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def ensure_pipeline(target: Path) -> bool:
    """Build the pipeline into ``target`` unless an identical one is there; True if built."""
    stamp = target / "shebao.fingerprint"
    if stamp.exists() and stamp.read_text().strip() == fingerprint():
        return False
    nlp = build_pipeline()
    target.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(target)
    stamp.write_text(fingerprint())
    return True


def main(argv: List[str]) -> int:
    """Build the spaCy pipeline if missing or stale (``make`` calls this)."""
    target = Path(argv[1] if len(argv) > 1 else "var/spacy/zh_shebao")
    built = ensure_pipeline(target)
    print(f"spaCy pipeline {'built' if built else 'up to date'}: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
