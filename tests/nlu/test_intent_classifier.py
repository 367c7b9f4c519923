"""Our logistic-regression intent classifier predicts exactly what Rasa's does.

``bot.nlu.components.LogisticRegressionIntentClassifier`` combines each
message's features once and keeps the coefficients in Fortran order; the
intent and the whole ranking (confidences compared bit for bit) must equal
those of Rasa's ``LogisticRegressionClassifier`` on the same trained model,
and a message without features still gets the fallback intent.
"""

from __future__ import annotations

import copy
from typing import List

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.logistic_regression_classifier import (
    LogisticRegressionClassifier,
)
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.components import LogisticRegressionIntentClassifier

INTENTS = ["greet", "thank", "ask_materials", "ask_where_to_go", "request_human"]
WORDS, CHARS = 40, 300  # the two CountVectorsFeaturizers' vocabulary sizes


def featured(text: str, rng: np.random.Generator, intent: str = "") -> Message:
    """A message with word and char n-gram features, as the featurizers leave it."""
    message = Message(data={TEXT: text, **({"intent": intent} if intent else {})})
    for origin, size in (("cv_words", WORDS), ("cv_chars", CHARS)):
        counts = rng.poisson(0.05, size=(1, size)).astype(np.float64)
        counts[0, rng.integers(size)] += 1
        for kind in ("sentence", "sequence"):
            message.add_features(
                Features(scipy.sparse.coo_matrix(counts), kind, TEXT, origin)
            )
    return message


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> LogisticRegressionClassifier:
    """Trained, persisted and loaded again, as ``rasa run`` loads it."""
    rng = np.random.default_rng(7)
    examples = [
        featured(f"example {i}", rng, INTENTS[i % len(INTENTS)]) for i in range(200)
    ]
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    resource = Resource("intent_classifier")
    context = ExecutionContext(GraphSchema({}), node_name="classifier")
    config = {
        **LogisticRegressionIntentClassifier.get_default_config(),
        "max_iter": 2000,
        "C": 20,
        "random_state": 42,
    }
    LogisticRegressionIntentClassifier.create(config, storage, resource, context).train(
        TrainingData(examples)
    )
    loaded = LogisticRegressionIntentClassifier.load(config, storage, resource, context)
    assert isinstance(loaded, LogisticRegressionIntentClassifier)
    return loaded


def messages(count: int, seed: int) -> List[Message]:
    rng = np.random.default_rng(seed)
    return [featured(f"question {i}", rng) for i in range(count)]


def test_the_loaded_coefficients_are_kept_in_fortran_order(
    trained: LogisticRegressionClassifier,
) -> None:
    assert trained.clf.coef_.flags.f_contiguous
    assert trained.clf.coef_.T.flags.c_contiguous  # X @ coef_.T reads it in place


@pytest.mark.parametrize("batch", [1, 3])
def test_predictions_are_rasas_bit_for_bit(
    trained: LogisticRegressionClassifier, batch: int
) -> None:
    rasas = copy.copy(trained)
    rasas.clf = copy.deepcopy(trained.clf)
    rasas.clf.coef_ = np.ascontiguousarray(trained.clf.coef_)  # as skops loads it
    for seed in range(20):
        ours, theirs = messages(batch, seed), messages(batch, seed)
        trained.process(ours)
        LogisticRegressionClassifier.process(rasas, theirs)
        for mine, reference in zip(ours, theirs, strict=True):
            assert mine.get("intent") == reference.get("intent")
            assert mine.get("intent_ranking") == reference.get("intent_ranking")
            assert mine.get("intent")["name"] in INTENTS


def test_a_message_without_features_gets_the_fallback_and_the_others_rasas(
    trained: LogisticRegressionClassifier,
) -> None:
    empty = Message(data={TEXT: ""})
    batch = [messages(1, 3)[0], empty]
    trained.process(batch)
    assert empty.get("intent")["name"] == "nlu_fallback"
    reference = messages(1, 3)
    LogisticRegressionClassifier.process(trained, reference)
    assert batch[0].get("intent_ranking") == reference[0].get("intent_ranking")
    assert trained._sentence_features == {}  # nothing kept between calls


def _untrained(tmp_path, **config) -> LogisticRegressionIntentClassifier:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), node_name="classifier")
    full = {**LogisticRegressionIntentClassifier.get_default_config(), **config}
    return LogisticRegressionIntentClassifier.create(
        full, storage, Resource("intent_classifier"), context
    )


def test_c_reaches_scikit_learn(tmp_path) -> None:
    """Rasa's own classifier never passes ``C`` on; ours does."""
    assert _untrained(tmp_path, C=7).clf.C == 7.0
    assert _untrained(tmp_path).clf.C == 1.0  # scikit-learn's default, as before
