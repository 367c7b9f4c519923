"""Whose hukou is the question about, when a message names two people's types.

"她是农村户口，我是城镇户口，她去哪办" and "My aunt's hukou is rural and mine is
urban. Where should she go?" name both residency types, each said of a
different person; the answer must follow the type of the person the question
is about (她, the aunt), not the last type named.  The question's person is the
last person mentioned in a clause that names no type; each type belongs to the
person of its own clause.  When the question's person matches none of them,
both types are dropped, so the answer gives both paths rather than a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

RESIDENCY_LABEL = "residency_type"

SELF, SHE, HE, THEY, BOTH = "self", "she", "he", "they", "both"

# (surface, kind): kin nouns name a person of a kind; pronouns name the kind.
_ZH_NOUNS: Tuple[Tuple[str, str], ...] = (
    tuple(
        (word, SHE)
        for word in (
            "丈母娘 岳母 婆婆 奶奶 外婆 姥姥 妈妈 老妈 母亲 女儿 闺女 姐姐 妹妹 老婆 "
            "媳妇 妻子 阿姨 姑姑 姑妈 姨妈 舅妈 婶婶 孙女 外孙女 侄女 姐 妹 妈 姑 姨"
        ).split()
    )
    + tuple(
        (word, HE)
        for word in (
            "老丈人 岳父 公公 爷爷 外公 姥爷 爸爸 老爸 父亲 儿子 哥哥 弟弟 老公 丈夫 "
            "叔叔 舅舅 伯伯 孙子 外孙 侄子 哥 弟 爸 叔 舅"
        ).split()
    )
    + tuple(
        (word, THEY)
        for word in "爷爷奶奶 外公外婆 父母 爸妈 老人 孩子 宝宝 小孩".split()
    )
)
_EN_NOUNS: Tuple[Tuple[str, str], ...] = (
    tuple(
        (word, SHE)
        for word in (
            "mother-in-law mother mom mum mommy mummy daughter wife sister aunt auntie "
            "grandmother grandma granny nan niece girlfriend"
        ).split()
    )
    + tuple(
        (word, HE)
        for word in (
            "father-in-law father dad daddy son husband brother uncle grandfather "
            "grandpa granddad nephew boyfriend"
        ).split()
    )
    + tuple(
        (word, THEY) for word in "grandparents parents children kids baby child".split()
    )
)
_PRONOUNS = (
    # "我们俩去哪交", "where do we each go": several people, so no one type
    (re.compile(r"我们|咱们|俩|\b(we|us|both|each)\b", re.IGNORECASE), BOTH),
    (re.compile(r"她们|他们|\b(they|them|their|theirs)\b", re.IGNORECASE), THEY),
    (re.compile(r"她|\b(she|her|hers|herself)\b", re.IGNORECASE), SHE),
    (re.compile(r"(?<!其)他|\b(he|him|his|himself)\b", re.IGNORECASE), HE),
    (
        re.compile(
            r"我|本人|自己|\b(i|me|my|mine|myself|i'm|i've|i'd)\b", re.IGNORECASE
        ),
        SELF,
    ),
)
_ZH_NOUN = re.compile(
    "|".join(sorted((w for w, _ in _ZH_NOUNS), key=len, reverse=True))
)
_EN_NOUN = re.compile(
    r"\b("
    + "|".join(sorted((re.escape(w) for w, _ in _EN_NOUNS), key=len, reverse=True))
    + r")s?\b",
    re.IGNORECASE,
)
_KIND = {word: kind for word, kind in _ZH_NOUNS + _EN_NOUNS}
# Clause boundaries: punctuation, and the conjunctions that join two people's facts.
_BOUNDARY = re.compile(
    r"[，,。．.;；!！?？\n]|\b(and|but|while|whereas)\b|而|但是|可是|但",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Person:
    """Who a clause is about: a kin noun (its word) or just a kind (pronouns)."""

    kind: str
    word: str = ""

    def matches(self, other: "Person") -> bool:
        """The same word, or the same kind where either side is a pronoun
        (a question about several people matches no one)."""
        if BOTH in (self.kind, other.kind):
            return False
        if self.word and other.word:
            return self.word == other.word
        return self.kind == other.kind


def clauses(text: str) -> List[Tuple[int, int]]:
    """The ``(start, end)`` spans of the message's clauses, boundaries left out."""
    spans: List[Tuple[int, int]] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        if boundary.start() > start:
            spans.append((start, boundary.start()))
        start = boundary.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def person_of(clause: str) -> Optional[Person]:
    """Who a clause is about: a kin noun first ("我妈" is the mother), else the
    last third-person pronoun, else the speaker."""
    found = sorted(
        list(_ZH_NOUN.finditer(clause)) + list(_EN_NOUN.finditer(clause)),
        key=lambda m: m.start(),
    )
    if found:
        word = _singular(found[-1].group(0).lower())
        return Person(_KIND[word], word)
    for pattern, kind in _PRONOUNS:
        if pattern.search(clause):
            return Person(kind)
    return None


def _singular(word: str) -> str:
    """The table's spelling of a noun ("aunts" -> "aunt", "parents" stays)."""
    if word in _KIND or not word.endswith("s"):
        return word
    return word[:-1]


def _clause_index(spans: Sequence[Tuple[int, int]], position: int) -> Optional[int]:
    for index, (start, end) in enumerate(spans):
        if start <= position < end:
            return index
    return None


def residency_of_person_asked_about(
    text: str, entities: List[Dict[str, Any]]
) -> List[Dict[str, Any]]:
    """Keep the residency type of the person the question is about.

    Acts only when two different types are said of two different people; any
    other message is returned unchanged.
    """
    residency = [e for e in entities if e.get("entity") == RESIDENCY_LABEL]
    if len({str(e.get("value")) for e in residency}) < 2:
        return entities
    spans = clauses(text)
    owners: List[Tuple[Dict[str, Any], Optional[Person]]] = []
    typed_clauses = set()
    for entity in residency:
        index = _clause_index(spans, int(entity.get("start") or 0))
        if index is None:
            return entities
        typed_clauses.add(index)
        start, end = spans[index]
        owners.append((entity, person_of(text[start:end])))
    people = {person for _, person in owners if person is not None}
    if len(people) < 2:
        return entities
    asked: Optional[Person] = None
    for index in reversed(range(len(spans))):
        if index in typed_clauses:
            continue
        start, end = spans[index]
        asked = person_of(text[start:end])
        if asked is not None:
            break
    values = {
        str(entity.get("value"))
        for entity, person in owners
        if asked is not None and person is not None and asked.matches(person)
    }
    keep = values if len(values) == 1 else set()
    return [
        e
        for e in entities
        if e.get("entity") != RESIDENCY_LABEL or str(e.get("value")) in keep
    ]
