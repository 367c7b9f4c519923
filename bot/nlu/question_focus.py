"""Features of the question a message ends with, beside those of the whole message.

Residents often write their situation first and their question last ("My
brother does odd jobs and nobody ever paid social insurance for him. How much
would medical insurance cost him?"). A bag of n-grams over the whole message
lets the situation's words (job, company, household registration) outvote the
question's, and the answer is for another topic. :class:`QuestionFocusFeaturizer`
adds a second set of word and character n-gram counts taken from the question
part only (:func:`question_start`). For a one-sentence message both sets are
the same, so the classifier learns them together from the short training
examples; in a long message the question's words then count twice and the
situation's once.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack
from sklearn.feature_extraction.text import CountVectorizer

from common.language import CJK

_SENTENCE = re.compile(r"[^.!?。！？;；\n]+[.!?。！？;；\n]*")
_QUESTION_MARK = re.compile(r"[?？]")
# Commas, and the spaces residents type between Chinese clauses ("种地 今年想参加").
_CLAUSE_BREAK = re.compile(rf"[,，、]|(?<={CJK.pattern})\s+(?={CJK.pattern})")
_WORD = re.compile(r"\w")
_NUMBER = re.compile(r"\b[0-9]+\b")


def question_start(text: str, max_clauses: int = 0) -> int:
    """Where the question of ``text`` starts: 0 unless it has several sentences.

    The question is the last sentence with a question mark, or else the last
    sentence. With ``max_clauses`` > 0, a Chinese question sentence of more
    clauses than that keeps only its last ones: residents write a whole story
    as one sentence of comma-joined (or space-joined) clauses, where English
    writers end their sentences.
    """
    sentences = _sentences(text)
    if not sentences:
        return 0
    chosen = _asked(sentences)[-1]
    start = chosen.start()
    if max_clauses > 0 and CJK.search(chosen.group()):
        breaks = [m.end() for m in _CLAUSE_BREAK.finditer(text, start, chosen.end())]
        breaks = [b for b in breaks if _WORD.search(text[b : chosen.end()])]
        if len(breaks) >= max_clauses:
            start = breaks[-max_clauses]
    return 0 if len(sentences) == 1 and start == chosen.start() else start


def question_sentences(text: str) -> List[str]:
    """The sentences of ``text`` with a question mark, or else its last sentence."""
    return [m.group() for m in _asked(_sentences(text))]


def _sentences(text: str) -> List[re.Match]:
    """The sentences of ``text`` that hold a word."""
    return [m for m in _SENTENCE.finditer(text) if _WORD.search(m.group())]


def _asked(sentences: List[re.Match]) -> List[re.Match]:
    """The sentences with a question mark, or else the last one (none of none)."""
    asked = [m for m in sentences if _QUESTION_MARK.search(m.group())]
    return asked or sentences[-1:]


def _tokens(message: Message, start: int) -> List[str]:
    """The lower-cased token texts from ``start`` on, numbers as one token."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return [
        _NUMBER.sub("__NUMBER__", token.text.lower())
        for token in tokens
        if token.start >= start
    ]


def _identity(tokens: List[str]) -> List[str]:
    return tokens


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class QuestionFocusFeaturizer(SparseFeaturizer, GraphComponent):
    """Sentence features (word and char_wb n-gram counts) of the question part."""

    _FILE = "vocabularies.json"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """``min_ngram``/``max_ngram`` of the character n-grams, ``max_clauses``."""
        return {
            **SparseFeaturizer.get_default_config(),
            "min_ngram": 1,
            "max_ngram": 4,
            "max_clauses": 0,
        }

    @staticmethod
    def required_components() -> List[type]:
        """Token offsets tell where the question starts."""
        return [Tokenizer]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Any n-gram range sklearn accepts."""

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabularies: Optional[Dict[str, Dict[str, int]]] = None,
    ) -> None:
        """A featurizer with its vocabularies once trained or loaded."""
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._words = self._chars = None
        if vocabularies:
            self._words = self._word_vectorizer(vocabularies["words"])
            self._chars = self._char_vectorizer(vocabularies["chars"])

    def _word_vectorizer(self, vocabulary: Any = None) -> CountVectorizer:
        return CountVectorizer(
            analyzer=_identity, lowercase=False, vocabulary=vocabulary
        )

    def _char_vectorizer(self, vocabulary: Any = None) -> CountVectorizer:
        ngrams = (self._config["min_ngram"], self._config["max_ngram"])
        return CountVectorizer(
            analyzer="char_wb", ngram_range=ngrams, vocabulary=vocabulary
        )

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "QuestionFocusFeaturizer":
        """A featurizer still to be trained."""
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "QuestionFocusFeaturizer":
        """The vocabularies learnt at training (JSON, like Rasa's own featurizers)."""
        vocabularies = None
        try:
            with model_storage.read_from(resource) as directory:
                vocabularies = json.loads((directory / cls._FILE).read_text("utf-8"))
        except (ValueError, FileNotFoundError):
            pass
        return cls(config, model_storage, resource, execution_context, vocabularies)

    def _question(self, message: Message) -> List[str]:
        text = message.get(TEXT) or ""
        return _tokens(message, question_start(text, self._config["max_clauses"]))

    def train(self, training_data: TrainingData) -> Resource:
        """Learns the word and character vocabularies of the examples' questions."""
        questions = [
            self._question(m) for m in training_data.training_examples if m.get(TEXT)
        ]
        self._words = self._word_vectorizer().fit(questions)
        self._chars = self._char_vectorizer().fit([" ".join(q) for q in questions])
        vocabularies = {
            "words": {k: int(v) for k, v in self._words.vocabulary_.items()},
            "chars": {k: int(v) for k, v in self._chars.vocabulary_.items()},
        }
        with self._model_storage.write_to(self._resource) as directory:
            (directory / self._FILE).write_text(
                json.dumps(vocabularies, ensure_ascii=False), encoding="utf-8"
            )
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Features for the training examples, as for any message."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the question's sentence features to each message with tokens."""
        if self._words is None or self._chars is None:
            return messages
        for message in messages:
            if not message.get(TEXT) or not message.get(TOKENS_NAMES[TEXT]):
                continue
            question = self._question(message)
            sentence = hstack(
                [
                    self._words.transform([question]),
                    self._chars.transform([" ".join(question)]),
                ]
            ).tocoo()
            self.add_features_to_message(None, sentence, TEXT, message)
        return messages
