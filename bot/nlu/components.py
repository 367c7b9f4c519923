"""Rasa graph components that complete the spaCy language layer.

* :class:`LanguageDetector` adds a ``language`` entity (``zh``/``en``) to every
  message that carries a language signal; the ``language`` slot is mapped from
  it, so every response can pick its Chinese or English variation.
* :class:`YearExtractor` adds a ``year`` entity ("2024", "去年" -> this year - 1)
  for contribution inquiries.
* :class:`LogisticRegressionIntentClassifier` is Rasa's logistic-regression
  classifier made safe for messages without features (an empty message makes
  the stock one raise inside scikit-learn), and without its per-message
  duplicate work.
* :class:`ContentlessMessageFallback` routes messages with no words at all
  (empty, blank, emoji only) to ``nlu_fallback``, so they get the polite
  "please rephrase" answer instead of silence.
* :class:`KeyboardMashFallback` routes keyboard mash ("asdfgh", "jkl;jkl; zzzz")
  to ``nlu_fallback``: Latin-script messages none of whose words occur in the
  training data and every word of which looks typed at random (a run along a
  keyboard row, one letter repeated, no vowel).
* :class:`AmbiguityDetector` predicts ``nlu_ambiguous`` when the two best
  intents are answerable topics whose confidences are within a margin, keeping
  the ranking, so ``action_disambiguate`` can ask "did you mean A or B?".
* :class:`WhyIdNumberGuard` keeps "why do you need my ID number?" to messages
  that ask what the number is for.
* :class:`EmployerEventGuard` tells employer registration from change or
  cancellation by the event a message names (set up, or changed / closed).
* :class:`EntityCanonicalizer` turns the phrases found by the spaCy
  ``entity_ruler`` into canonical values (``城镇户口`` -> ``urban``) from the same
  table the ruler was built from, so slots never hold raw surface text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, FrozenSet, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import (
    LogisticRegressionClassifier,
)
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack

from bot.language.years import mentioned_year
from bot.nlu.persons import residency_of_person_asked_about
from common.intents import (
    AMBIGUOUS_INTENT,
    COVERED_BY_PAYMENT_GUIDANCE,
    PAYMENT_GUIDANCE_INTENT,
    TOPIC_INTENTS,
)
from common.language import CJK, detect_language
from common.vocabulary import canonical_lookup

_SPACES = re.compile(r"\s+")
_WORD_CHARACTER = re.compile(r"\w")


class _StatelessComponent(GraphComponent):
    """A component with nothing to train or load: created from its class alone."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls()


class _MessageTagger(_StatelessComponent, EntityExtractorMixin):
    """Adds one entity that describes the whole message, when there is one."""

    entity_name = ""

    def tag(self, text: str) -> Optional[str]:
        raise NotImplementedError

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            value = self.tag(text)
            if value is None:
                continue
            entity = {
                "entity": self.entity_name,
                "value": value,
                "start": 0,
                "end": len(text),
                "confidence": 1.0,
            }
            entities = message.get(ENTITIES, []) + self.add_extractor_name([entity])
            message.set(ENTITIES, entities, add_to_output=True)
        return messages


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class LanguageDetector(_MessageTagger):
    """Tags each message with the language it is written in."""

    entity_name = "language"

    def tag(self, text: str) -> Optional[str]:
        return detect_language(text)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class YearExtractor(_MessageTagger):
    """Tags the year a message asks about, resolving "this/last year" to a number."""

    entity_name = "year"

    def tag(self, text: str) -> Optional[str]:
        if text.startswith("/"):
            return None  # a button payload carries its entities itself
        year = mentioned_year(text)
        return None if year is None else str(year)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class EntityCanonicalizer(_StatelessComponent, EntityExtractorMixin):
    """Replaces domain entity surface text with its canonical value."""

    def __init__(self) -> None:
        self._lookup = canonical_lookup()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            for entity in message.get(ENTITIES, []):
                phrase = _SPACES.sub(" ", str(entity.get("value", ""))).strip().lower()
                canonical = self._lookup.get((entity.get("entity"), phrase))
                if canonical is not None and canonical != entity.get("value"):
                    entity["value"] = canonical
                    self.add_processor_name(entity)
        return messages


def _fallback_intent() -> Dict[str, Any]:
    return {
        INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
        PREDICTED_CONFIDENCE_KEY: 1.0,
    }


def _set_intent(message: Message, name: str, ranking: List[Dict[str, Any]]) -> None:
    """Make ``name`` the message's intent, with the best confidence of the ranking."""
    top = max(
        (float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) for r in ranking), default=1.0
    )
    intent = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: top}
    rest = [r for r in ranking if r.get(INTENT_NAME_KEY) != name]
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [intent] + rest, add_to_output=True)


def _set_fallback(message: Message) -> None:
    message.set(INTENT, _fallback_intent(), add_to_output=True)
    message.set(INTENT_RANKING_KEY, [_fallback_intent()], add_to_output=True)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LogisticRegressionIntentClassifier(LogisticRegressionClassifier):
    """Classifies messages that have features; the others are low-confidence input.

    Two things Rasa's classifier does per message are done once here, with the
    same result: the message's sentence features (``get_sparse_features``
    deep-copies and stacks both featurizers' matrices) are combined once, not
    three times; and the coefficients are kept in Fortran order, so the
    ``X @ coef_.T`` of every prediction reads them in place instead of copying
    the whole (intents x n-grams) matrix to C order first (same values, same
    order of summation: bit-identical probabilities).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Rasa's defaults, and ``C``, which Rasa's own class never passes on.

        ``C`` is scikit-learn's inverse regularisation strength; its default,
        1.0, is what every model before this option was trained with.
        """
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Rasa's classifier, with room for the features of the messages in hand."""
        super().__init__(*args, **kwargs)
        self.clf.C = float(self.config["C"])
        self._sentence_features: Dict[int, Any] = {}

    @classmethod
    def load(cls, *args: Any, **kwargs: Any) -> "LogisticRegressionClassifier":
        """Rasa's ``load``, with the coefficients in Fortran order (see above)."""
        component = super().load(*args, **kwargs)
        coef = getattr(component.clf, "coef_", None)
        if coef is not None:
            component.clf.coef_ = np.asfortranarray(coef)
        return component

    def process(self, messages: List[Message]) -> List[Message]:
        """Rasa's prediction for messages with features, the fallback for the rest."""
        pairs = [(m, m.get_sparse_features(TEXT)[1]) for m in messages]
        featured = {id(m): f for m, f in pairs if f is not None}
        if featured:
            self._sentence_features = featured
            try:
                super().process([m for m, f in pairs if f is not None])
            finally:
                self._sentence_features = {}
        for message, features in pairs:
            if features is None:
                _set_fallback(message)
        return messages

    def _create_X(self, messages: List[Message]) -> csr_matrix:
        """Rasa's ``_create_X``, taking the sentence features combined in ``process``."""
        rows = []
        for message in messages:
            sparse_feats = self._sentence_features.get(id(message))
            if sparse_feats is None:
                sparse_feats = message.get_sparse_features(attribute=TEXT)[1]
            dense_feats = message.get_dense_features(attribute=TEXT)[1]
            rows.append(
                hstack(
                    [
                        csr_matrix(sparse_feats.features if sparse_feats else []),
                        csr_matrix(dense_feats.features if dense_feats else []),
                    ]
                )
            )
        return vstack(rows)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class ContentlessMessageFallback(_StatelessComponent):
    """Empty, blank or emoji-only messages are low-confidence input, not silence."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if not _WORD_CHARACTER.search(message.get(TEXT) or ""):
                _set_fallback(message)
        return messages


# ---- keyboard mash ------------------------------------------------------------

_LATIN_TOKEN = re.compile(r"[a-z]+")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_REPEATED_LETTER = re.compile(r"([a-z])\1\1")
_VOWEL = re.compile(r"[aeiouy]")
# One character typed this many times, and nothing else, is mash.
_HELD_DOWN = 4


def latin_words(text: str) -> List[str]:
    """The lower-cased runs of Latin letters in a text."""
    return _LATIN_TOKEN.findall(text.lower())


def _along_a_row(word: str) -> bool:
    """Whether the word is mostly runs of three or more keys along a keyboard row."""
    covered = 0
    i = 0
    while i < len(word):
        best = 1
        for row in _KEYBOARD_ROWS + tuple(r[::-1] for r in _KEYBOARD_ROWS):
            for j in range(len(word), i + 2, -1):  # longest run first, at least 3
                if word[i:j] in row:
                    best = max(best, j - i)
                    break
        if best >= 3:
            covered += best
        i += best
    return covered * 2 > len(word)


def looks_like_mash(word: str) -> bool:
    """Whether a word looks typed at random rather than misspelt."""
    return (
        _along_a_row(word)
        or bool(_REPEATED_LETTER.search(word))
        or (len(word) >= 3 and not _VOWEL.search(word))
    )


def is_keyboard_mash(text: str, vocabulary: FrozenSet[str]) -> bool:
    """A Latin-only message whose every word is unknown and looks like mash.

    One letter held down ("啊啊啊啊啊", "zzzzzz") is mash in any script.
    """
    if not text or text.lstrip().startswith("/"):
        return False
    characters = _WORD_CHARACTER.findall(text)
    held = len(characters) >= _HELD_DOWN and len(set(characters)) == 1
    if held and not characters[0].isdigit():  # "000000" may be a code
        return True
    if CJK.search(text):
        return False
    words = latin_words(text)
    if not words:
        return False
    return all(w not in vocabulary and looks_like_mash(w) for w in words)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class KeyboardMashFallback(GraphComponent):
    """Keyboard mash is low-confidence input: the resident gets "please rephrase".

    The words of the training data are never mash ("thx", "hmm" are real
    messages), so they are learnt and kept with the model.
    """

    _FILE = "vocabulary.json"

    def __init__(
        self,
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: Optional[FrozenSet[str]] = None,
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary = vocabulary or frozenset()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "KeyboardMashFallback":
        return cls(model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "KeyboardMashFallback":
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((directory / cls._FILE).read_text("utf-8"))
        except (ValueError, FileNotFoundError):
            words = []
        return cls(model_storage, resource, frozenset(words))

    def train(self, training_data: TrainingData) -> Resource:
        words = {
            word
            for example in training_data.intent_examples
            for word in latin_words(example.get(TEXT) or "")
        }
        self.vocabulary = frozenset(words)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / self._FILE).write_text(
                json.dumps(sorted(words)), encoding="utf-8"
            )
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if is_keyboard_mash(message.get(TEXT) or "", self.vocabulary):
                _set_fallback(message)
                if CJK.search(message.get(TEXT) or ""):
                    continue  # "啊啊啊啊" is Chinese all the same
                # Latin mash is in no language: the conversation keeps its own
                # (a Chinese resident's "asdf qwer" gets a Chinese "rephrase").
                kept = [
                    e
                    for e in message.get(ENTITIES) or []
                    if e.get("entity") != LanguageDetector.entity_name
                ]
                message.set(ENTITIES, kept, add_to_output=True)
        return messages


# ---- ambiguity ------------------------------------------------------------------


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class AmbiguityDetector(GraphComponent):
    """Two answerable topics too close to call: ask which one was meant.

    Runs after the FallbackClassifier.  When the two best intents of the
    classifier's ranking (``nlu_fallback`` aside) are both topics
    (:data:`common.intents.TOPIC_INTENTS`), their confidences differ by less
    than ``margin`` and the second has at least ``min_confidence``, the intent
    becomes ``nlu_ambiguous``; the ranking stays in the parse data (with
    ``nlu_ambiguous`` first), so the action can offer the two topics.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"margin": 0.2, "min_confidence": 0.2}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.margin = float(config.get("margin", 0.2))
        self.min_confidence = float(config.get("min_confidence", 0.2))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "AmbiguityDetector":
        return cls({**cls.get_default_config(), **config})

    def close_pair(self, ranking: List[Dict[str, Any]]) -> Optional[List[str]]:
        """The two best intents if they are too close to call, best first."""
        ranked = [
            r
            for r in ranking
            if r.get(INTENT_NAME_KEY)
            not in (DEFAULT_NLU_FALLBACK_INTENT_NAME, AMBIGUOUS_INTENT)
        ]
        if len(ranked) < 2:
            return None
        first, second = ranked[0], ranked[1]
        top = float(first.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        runner_up = float(second.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        if runner_up < self.min_confidence or top - runner_up >= self.margin:
            return None
        return [str(first[INTENT_NAME_KEY]), str(second[INTENT_NAME_KEY])]

    def ambiguous_pair(self, ranking: List[Dict[str, Any]]) -> Optional[List[str]]:
        """The two topic intents too close to call, best first, if any."""
        names = self.close_pair(ranking)
        if names is None or not all(name in TOPIC_INTENTS for name in names):
            return None
        return names

    def resolved_close_call(
        self,
        ranking: List[Dict[str, Any]],
        entities: List[Dict[str, Any]],
        text: str = "",
    ) -> Optional[str]:
        """The intent a close call comes to when either reading gets one answer.

        - Two payment questions the payment guidance answers together
          ("what do I bring, or where do I go?"): that guidance.
        - A payment question against giving the residency type, with a type
          in the message ("I converted to a non-agricultural hukou"): the type
          given, so the answer follows the conversation's question.
        - The amount against another payment question, in a message asking how
          much ("how much will she have to pay?"): the amount.
        - Which offices inform the agency against a personal payment question,
          in a message naming a hukou type and nothing about informing (a
          story about grandparents' rural hukou): the payment question.
        """
        names = self.close_pair(ranking)
        if names is None:
            return None
        if set(names) <= COVERED_BY_PAYMENT_GUIDANCE:
            return PAYMENT_GUIDANCE_INTENT
        if (
            AMOUNT_INTENT in names
            and set(names) <= COVERED_BY_PAYMENT_GUIDANCE | {AMOUNT_INTENT}
            and _ASKS_HOW_MUCH.search(text)
        ):
            return AMOUNT_INTENT
        others = set(names) - {RESIDENCY_ANSWER_INTENT}
        names_a_type = any(e.get("entity") == RESIDENCY_LABEL for e in entities)
        if (
            RESIDENCY_ANSWER_INTENT in names
            and others <= COVERED_BY_PAYMENT_GUIDANCE | {"ask_payment_amount"}
            and names_a_type
        ):
            return RESIDENCY_ANSWER_INTENT
        if (
            NOTIFICATION_INTENT in names
            and names_a_type
            and not _ABOUT_INFORMING.search(text)
        ):
            personal = [name for name in names if name in PERSONAL_PAYMENT_INTENTS]
            if personal:
                return personal[0]
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            ranking = list(message.get(INTENT_RANKING_KEY) or [])
            resolved = self.resolved_close_call(
                ranking, message.get(ENTITIES) or [], message.get(TEXT) or ""
            )
            if resolved is not None:
                _set_intent(message, resolved, ranking)
                continue
            pair = self.ambiguous_pair(ranking)
            if pair is None:
                continue
            confidences = [
                float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
                for r in ranking
                if r.get(INTENT_NAME_KEY) in pair
            ]
            intent = {
                INTENT_NAME_KEY: AMBIGUOUS_INTENT,
                PREDICTED_CONFIDENCE_KEY: min(1.0, sum(confidences)),
            }
            kept = [
                r
                for r in ranking
                if r.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME
            ]
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [intent] + kept, add_to_output=True)
        return messages


# ---- a hukou type makes it the resident's own question -----------------------------

EMPLOYER_INTENTS = frozenset(
    {"ask_employer_registration", "ask_employer_change", "ask_agency_notification"}
)
NOTIFICATION_INTENT = "ask_agency_notification"
AMOUNT_INTENT = "ask_payment_amount"
_ASKS_HOW_MUCH = re.compile(
    r"多少钱|多少|金额|几块|几百|费用|\bhow much\b|\bamount\b|\bcosts?\b|\bprice\b",
    re.IGNORECASE,
)
# What Article 57's notification is about: who informs the agency of what.
_ABOUT_INFORMING = re.compile(
    r"通知|通报|告知|告诉|公安|派出所|出生|死亡|去世|注销|迁移|"
    r"\binform|\bnotif|\btell|\btold\b|\bpolice\b|public security|\bbirths?\b|"
    r"\bdeaths?\b|\bdied\b|\breport",
    re.IGNORECASE,
)
PERSONAL_PAYMENT_INTENTS = (
    "ask_individual_payment",
    "ask_materials",
    "ask_where_to_go",
    "ask_payment_amount",
)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class HukouTypeTopicGuard(_StatelessComponent):
    """A message naming a hukou type is about a person's insurance, not an employer.

    Employers have no hukou.  A long message that tells a resident's story
    ("the company laid me off ... I'm urban registered, where do I go?") shares
    words with the employer topics (company, agency, registration) and used to
    get the Article 57 answer; when the classifier picks an employer topic but
    the message names an urban or agricultural hukou, the best personal payment
    question of the ranking is taken instead (or the payment question itself).
    Which offices inform the agency (births, deaths, hukou moves) is the one
    employer topic a hukou type fits, so it is kept unless a payment question
    is a real runner-up.
    """

    NOTIFICATION_RUNNER_UP = 0.1

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            entities = message.get(ENTITIES) or []
            if not any(e.get("entity") == RESIDENCY_LABEL for e in entities):
                continue
            ranking = list(message.get(INTENT_RANKING_KEY) or [])
            if intent == AMBIGUOUS_INTENT:
                # "did you mean what to bring, or employer registration?" to a
                # resident who named their hukou: the personal question it is.
                self._settle_close_call(message, ranking)
                continue
            if intent not in EMPLOYER_INTENTS:
                continue
            personal = [
                (
                    str(r.get(INTENT_NAME_KEY)),
                    float(r.get(PREDICTED_CONFIDENCE_KEY) or 0),
                )
                for r in ranking
                if r.get(INTENT_NAME_KEY) in PERSONAL_PAYMENT_INTENTS
            ]
            if intent == NOTIFICATION_INTENT and not any(
                confidence >= self.NOTIFICATION_RUNNER_UP for _, confidence in personal
            ):
                # "户口迁到城里了，派出所会通知社保吗" is about the notification.
                continue
            best = personal[0][0] if personal else PERSONAL_PAYMENT_INTENTS[0]
            _set_intent(message, best, ranking)
        return messages

    @staticmethod
    def _settle_close_call(message: Message, ranking: List[Dict[str, Any]]) -> None:
        """A close call between a personal and an employer topic: the personal one."""
        top_two = [
            str(r.get(INTENT_NAME_KEY))
            for r in ranking
            if r.get(INTENT_NAME_KEY) != AMBIGUOUS_INTENT
        ][:2]
        personal = [name for name in top_two if name in PERSONAL_PAYMENT_INTENTS]
        employer = [name for name in top_two if name in EMPLOYER_INTENTS]
        if len(personal) == 1 and len(employer) == 1:
            kept = [r for r in ranking if r.get(INTENT_NAME_KEY) != AMBIGUOUS_INTENT]
            _set_intent(message, personal[0], kept)


# ---- "why do you need my ID number?" ------------------------------------------------

WHY_ID_INTENT = "ask_why_id_number"
# The question asks what the number is for (or whether it is safe to give);
# other messages that mention it ("I forgot my ID number", "交医保要身份证号吗")
# ask something else.
_ASKS_WHAT_FOR = re.compile(
    r"为什么|为啥|干嘛|干啥|干什么|做什么|作什么|用途|什么用|啥用|有用吗|安全|泄露|泄漏|保存|"
    r"存起来|拿去|拿来|非要|\bwhy\b|\bwhat\b.*\bfor\b|\bused for\b|"
    r"\buse (it|my|the)\b|\bsafe\b|\bstore|\bkeep|\bsave|\bleak|\bprivacy\b|"
    r"\breally need\b|\bdo with\b|\bwho sees\b",
    re.IGNORECASE,
)


def without_intent(ranking: List[Dict[str, Any]], name: str) -> List[Dict[str, Any]]:
    """The ranking without ``name``, its confidences rescaled to sum as before."""
    rest = [dict(r) for r in ranking if r.get(INTENT_NAME_KEY) != name]
    removed = sum(
        float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        for r in ranking
        if r.get(INTENT_NAME_KEY) == name
    )
    total = sum(float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) for r in rest)
    if total > 0 and removed > 0:
        scale = (total + removed) / total
        for r in rest:
            r[PREDICTED_CONFIDENCE_KEY] = float(r[PREDICTED_CONFIDENCE_KEY]) * scale
    return rest


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class WhyIdNumberGuard(_StatelessComponent):
    """ "Why the ID number?" only when the message asks what it is for.

    Runs right after the classifier, before the fallback threshold.  The
    intent's examples all name the ID number, so any message naming it ("I
    forgot my ID number", "网上交医保要身份证号吗") drew it; without a word that
    asks what the number is for (why, used for, safe, 为什么, 干嘛, 安全...), the
    best other intent is taken, its confidence rescaled as if the ID question
    had never been a candidate, so the fallback threshold still applies.
    """

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            if intent != WHY_ID_INTENT:
                continue
            if _ASKS_WHAT_FOR.search(message.get(TEXT) or ""):
                continue
            rest = without_intent(
                list(message.get(INTENT_RANKING_KEY) or []), WHY_ID_INTENT
            )
            if not rest:
                _set_fallback(message)
                continue
            best = rest[0]
            message.set(
                INTENT,
                {
                    INTENT_NAME_KEY: best[INTENT_NAME_KEY],
                    PREDICTED_CONFIDENCE_KEY: best[PREDICTED_CONFIDENCE_KEY],
                },
                add_to_output=True,
            )
            message.set(INTENT_RANKING_KEY, rest, add_to_output=True)
        return messages


# ---- an employer set up, or changed / closed ----------------------------------------

REGISTRATION_INTENT = "ask_employer_registration"
CHANGE_INTENT = "ask_employer_change"
# Article 57: registration within 30 days of being set up; change or
# cancellation within 30 days of a change or termination.
_SET_UP = re.compile(
    r"成立|新开|刚开|开了(一|个|家|间)|开业|新公司|新单位|新企业|刚注册|注册了|设立|创办|"
    r"开办|拿到营业执照|营业执照(刚)?(办|下来)|"
    r"\bset(ting)? up\b|\bfounded\b|\bestablish|\bnewly\b|"
    r"\bnew (company|business|firm|employer|shop|store|restaurant|startup)\b|"
    r"\bstart-?up\b|\b(just )?opened\b|\bstarted (a|an|our|my|his|her|the)\b|"
    r"\bgot (its|our|the|a) business licen",
    re.IGNORECASE,
)
_CHANGED_OR_CLOSED = re.compile(
    r"变更|变了|改名|更名|改了|改地址|搬|迁|注销|终止|关门|关了|要关|关闭|倒闭|解散|破产|"
    r"清算|停业|撤销|吊销|合并|分立|兼并|不干|不开|不做了|换法人|法人换|销户|"
    r"\bchang|\brenam|\bmov(e|ed|ing)\b|\brelocat|\bclos(e|ed|es|ing)\b|\bshut|"
    r"\bdissol|\bterminat|\bw(ind|inding|ound) (up|down)\b|out of business|\bbankrupt|"
    r"\bliquidat|\bderegist|\bmerg|\bupdat",
    re.IGNORECASE,
)


def employer_event(text: str) -> Optional[str]:
    """The employer topic a message's event decides, if it names only one kind.

    A company set up asks about registration; one changed or closed asks about
    change or cancellation.  A message naming both tells a story in order ("we
    opened a shop, then moved and renamed it"): the event named last is the
    one asked about.  A message naming neither decides nothing.
    """
    set_up = _last_position(_SET_UP, text)
    changed = _last_position(_CHANGED_OR_CLOSED, text)
    if set_up == changed:
        return None
    return REGISTRATION_INTENT if set_up > changed else CHANGE_INTENT


# Who informs whom: the words of the notification question (Article 57).
_NAMES_INFORMING = re.compile(
    r"通报|通知|告知|告诉|报告|上报|报给|公安|派出所|民政|市场监督|编制|"
    r"\bnotif|\binform|\btell|\btold\b|\breport|\bpolice\b|\bpublic security\b|"
    r"\bcivil affairs\b|\bmarket (supervision|regulation)|\bwho\b|得知|知道|知晓|从哪|"
    r"\blearn|\bfind out\b|\bhear\b|\bknow\b",
    re.IGNORECASE,
)
_NAMES_PERSONAL_EVENT = re.compile(
    r"户口|户籍|落户|出生|死亡|去世|过世|\bhukou\b|household registration|\bborn\b|"
    r"\bbirth|\bdeath|\bdied\b|\bpassed away\b",
    re.IGNORECASE,
)

# An event taken back: "不是刚成立", "没有注销", "not a new company", "isn't closing".
_EVENT_NEGATED = re.compile(
    r"(不是|并非|而非|并不是|没有|没|不)\s*(刚|才|新|要|在)?$|"
    r"\b(not|isn'?t|wasn'?t|aren'?t|never|rather than|instead of)"
    r"(\s+(just|being|a|an|the|really|actually))*\s*$",
    re.IGNORECASE,
)


def _last_position(pattern: re.Pattern, text: str) -> int:
    """Where the last match of ``pattern`` in ``text`` that is not taken back
    starts; -1 for none."""
    starts = [
        m.start()
        for m in pattern.finditer(text)
        if not _taken_back(_EVENT_NEGATED, text, m.start())
    ]
    return starts[-1] if starts else -1


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class EmployerEventGuard(_StatelessComponent):
    """Registration or change, as the event the message names decides.

    The two employer topics share almost every word (company, social insurance
    registration, 30 days), so the classifier's choice between them can hang
    on a filler: "先不查了，公司成立了要怎么办社保登记" read as change.  When
    registration or change is predicted, or the two are a close call, and the
    message names only a setting-up ("成立", "just opened") or only a change or
    closing ("改名", "closing down"), that decides.  Who informs the agency
    shares the same events ("set up or closes down"); a message read as that
    question which names no informing (通报, notify, police ...) is about the
    employer's own registration: "I meant when the company shuts down".
    """

    PAIR = frozenset({REGISTRATION_INTENT, CHANGE_INTENT})

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            text = message.get(TEXT) or ""
            ranking = [
                r
                for r in message.get(INTENT_RANKING_KEY) or []
                if r.get(INTENT_NAME_KEY) != AMBIGUOUS_INTENT
            ]
            if intent == AMBIGUOUS_INTENT:
                top_two = {r.get(INTENT_NAME_KEY) for r in ranking[:2]}
                if top_two != self.PAIR:
                    continue
            elif intent == NOTIFICATION_INTENT:
                # a person's births, deaths and hukou moves are only informed of
                if _NAMES_INFORMING.search(text) or _NAMES_PERSONAL_EVENT.search(text):
                    continue
            elif intent not in self.PAIR:
                continue
            decided = employer_event(text)
            if decided is not None and decided != intent:
                _set_intent(message, decided, ranking)
        return messages


# ---- "I don't know if I'm urban or agricultural" ---------------------------------

NOT_SURE_INTENT = "inform_not_sure"
RESIDENCY_ANSWER_INTENT = "inform_residency"
RESIDENCY_LABEL = "residency_type"
_UNSURE = re.compile(
    r"不知道|不清楚|不确定|搞不懂|搞不清|弄不清|分不清|说不清|说不准|不晓得|不太懂|不了解|"
    r"记不清|忘了|\bnot sure\b|\bunsure\b|\bno idea\b|\bno clue\b|\bidk\b|"
    r"\bdon'?t know\b|\bdo not know\b|\bnot certain\b|\bcan'?t remember\b|"
    r"\bdon'?t remember\b|\bforg[eo]t\b|\bconfused\b",
    re.IGNORECASE,
)


# Both types named as a question or a choice to be made, not as an answer.
_BOTH_AS_QUESTION = re.compile(
    r"还是|或者|区别|不同|哪种|哪个|哪一|\bor\b|\bdifference\b|\bdiffer\b|\bwhich\b",
    re.IGNORECASE,
)
# Words just before a type that take it back: "not urban", "不是城镇", "以前是农村".
_NEGATED_BEFORE = re.compile(
    r"(不是|并非|而非|并不是|以前是|原来是|之前是|过去是|曾经是|不算|非)\s*的?$|"
    r"\b(not|isn'?t|wasn'?t|no longer|never|rather than|instead of|used to be)"
    r"(\s+(an?|the|really|actually))?\s*$",
    re.IGNORECASE,
)
_CLAUSE_WINDOW = 12
# Questions the not-sure answer (both paths: where to go, what to bring) answers.
_ANSWERED_BY_BOTH_PATHS = frozenset(
    {"ask_individual_payment", "ask_materials", "ask_where_to_go", "inform_residency"}
)
# The type itself is what the resident does not know ("不知道是什么户口",
# "not sure what my hukou is"), not something else ("不知道去哪").
_NAMES_RESIDENCY = re.compile(
    r"户口|户籍|城镇|农村|农业|城市|\bhukou\b|household registration|\burban\b|"
    r"\brural\b|\bagricultural\b",
    re.IGNORECASE,
)


def unsure_of_residency(text: str, intent: Optional[str], values: List[str]) -> bool:
    """Whether the residency types named in a message are not an answer.

    "不知道是城镇还是农业" names both types without choosing one: the message is
    ``inform_not_sure``, or it names both types next to a word of not knowing
    ("not sure if it's urban or rural, how do I pay?") or as a question ("城镇和
    农业有什么区别", "urban or rural?").  A correction that names both ("不是城镇，
    是农村") has no such word and keeps its entities; :func:`negated` then drops
    the one taken back.
    """
    if not values:
        return False
    if intent == NOT_SURE_INTENT:
        return True
    if len(set(values)) < 2:
        return False
    return bool(_UNSURE.search(text) or _BOTH_AS_QUESTION.search(text))


def negated(text: str, start: int) -> bool:
    """Whether the type starting at ``start`` is taken back ("not urban", "不是城镇")."""
    return _taken_back(_NEGATED_BEFORE, text, start)


def _taken_back(words_before: re.Pattern, text: str, start: int) -> bool:
    """Whether the clause window just before ``start`` ends with ``words_before``."""
    return bool(words_before.search(text[max(0, start - _CLAUSE_WINDOW) : start]))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class UnsureResidencyFilter(_StatelessComponent):
    """Drops ``residency_type`` entities from a message that does not choose one.

    Runs after intent classification.  Without it, "不知道是城镇还是农业" (asked
    "urban or agricultural?") filled the slot with the last type named, and the
    resident got the agricultural answer to "I don't know".  Of two different
    types, one taken back ("agricultural, not urban", "是农村，不是城镇") is
    dropped, so the slot gets the other.  A payment question that says it does
    not know the type ("how do I pay? not sure if I'm urban or rural") becomes
    ``inform_not_sure``: its answer explains the type and gives both paths.
    """

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = list(message.get(ENTITIES) or [])
            values = [
                str(e.get("value"))
                for e in entities
                if e.get("entity") == RESIDENCY_LABEL
            ]
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            text = message.get(TEXT) or ""
            if unsure_of_residency(text, intent, values) or (
                not values
                and intent in _ANSWERED_BY_BOTH_PATHS
                and bool(_UNSURE.search(text))
                and bool(_NAMES_RESIDENCY.search(text))
            ):
                kept = [e for e in entities if e.get("entity") != RESIDENCY_LABEL]
                message.set(ENTITIES, kept, add_to_output=True)
                if intent in _ANSWERED_BY_BOTH_PATHS:
                    # "how do I pay? I don't know if I'm urban or rural": what
                    # the type is, who can tell, and both paths; asking "urban
                    # or rural?" again would repeat what they cannot answer.
                    ranking = list(message.get(INTENT_RANKING_KEY) or [])
                    _set_intent(message, NOT_SURE_INTENT, ranking)
            elif values:
                # "she's agricultural, not urban": keep the type not taken back
                # (the slot takes the last residency entity); "我之前是农业户口"
                # alone takes its only type back, so the form asks.
                kept = [
                    e
                    for e in entities
                    if e.get("entity") != RESIDENCY_LABEL
                    or not negated(text, int(e.get("start") or 0))
                ]
                kept = _registration_over_residence(text, kept)
                # "她是农村户口，我是城镇户口，她去哪办": the type of the person
                # the question is about (both dropped when it is unclear whose).
                kept = residency_of_person_asked_about(text, kept)
                if len(kept) < len(entities):
                    message.set(ENTITIES, kept, add_to_output=True)
        return messages


_REGISTRATION_WORD = re.compile(r"户口|户籍|hukou|regist", re.IGNORECASE)


def _registration_over_residence(
    text: str, entities: List[Dict[str, Any]]
) -> List[Dict[str, Any]]:
    """Of two different types, the one said of the hukou ("户口在城里，人在农村住").

    Where someone lives is not their registration type: when the types differ
    and only one is named with a registration word (户口, hukou, registered),
    the other is dropped.
    """
    residency = [e for e in entities if e.get("entity") == RESIDENCY_LABEL]
    if len({str(e.get("value")) for e in residency}) < 2:
        return entities

    def of_registration(entity: Dict[str, Any]) -> bool:
        start, end = int(entity.get("start") or 0), int(entity.get("end") or 0)
        return bool(_REGISTRATION_WORD.search(text[start:end]))

    registered = {str(e.get("value")) for e in residency if of_registration(e)}
    if len(registered) != 1:
        return entities
    return [
        e
        for e in entities
        if e.get("entity") != RESIDENCY_LABEL or str(e.get("value")) in registered
    ]
