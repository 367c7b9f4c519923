"""Rasa graph components that complete the spaCy language layer.

* :class:`LanguageDetector` adds a ``language`` entity (``zh``/``en``) to every
  message that carries a language signal; the ``language`` slot is mapped from
  it, so every response can pick its Chinese or English variation.
* :class:`EntityCanonicalizer` turns the phrases found by the spaCy
  ``entity_ruler`` into canonical values (``城镇户口`` -> ``urban``) from the same
  table the ruler was built from, so slots never hold raw surface text.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.language.detect import detect_language
from bot.language.patterns import canonical_lookup

LANGUAGE_ENTITY = "language"
_SPACES = re.compile(r"\s+")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Tags each message with the language it is written in."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageDetector":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            language = detect_language(text)
            if language is None:
                continue
            entity = {
                "entity": LANGUAGE_ENTITY,
                "value": language,
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
class EntityCanonicalizer(GraphComponent, EntityExtractorMixin):
    """Replaces domain entity surface text with its canonical value."""

    def __init__(self) -> None:
        self._lookup = canonical_lookup()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EntityCanonicalizer":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            for entity in message.get(ENTITIES, []):
                phrase = _SPACES.sub(" ", str(entity.get("value", ""))).strip().lower()
                canonical = self._lookup.get((entity.get("entity"), phrase))
                if canonical is not None and canonical != entity.get("value"):
                    entity["value"] = canonical
                    self.add_processor_name(entity)
        return messages
