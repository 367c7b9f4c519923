"""Rasa graph components that complete the spaCy language layer.

* :class:`LanguageDetector` adds a ``language`` entity (``zh``/``en``) to every
  message that carries a language signal; the ``language`` slot is mapped from
  it, so every response can pick its Chinese or English variation.
* :class:`YearExtractor` adds a ``year`` entity ("2024", "去年" -> this year - 1)
  for contribution inquiries.
* :class:`LogisticRegressionIntentClassifier` is Rasa's logistic-regression
  classifier made safe for messages without features (an empty message makes
  the stock one raise inside scikit-learn).
* :class:`ContentlessMessageFallback` routes messages with no words at all
  (empty, blank, emoji only) to ``nlu_fallback``, so they get the polite
  "please rephrase" answer instead of silence.
* :class:`EntityCanonicalizer` turns the phrases found by the spaCy
  ``entity_ruler`` into canonical values (``城镇户口`` -> ``urban``) from the same
  table the ruler was built from, so slots never hold raw surface text.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

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

from bot.language.years import mentioned_year
from common.language import detect_language
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


def _set_fallback(message: Message) -> None:
    message.set(INTENT, _fallback_intent(), add_to_output=True)
    message.set(INTENT_RANKING_KEY, [_fallback_intent()], add_to_output=True)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LogisticRegressionIntentClassifier(LogisticRegressionClassifier):
    """Classifies messages that have features; the others are low-confidence input."""

    def process(self, messages: List[Message]) -> List[Message]:
        featured = [m for m in messages if m.get_sparse_features(TEXT)[1] is not None]
        if featured:
            super().process(featured)
        for message in messages:
            if message.get_sparse_features(TEXT)[1] is None:
                _set_fallback(message)
        return messages


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
