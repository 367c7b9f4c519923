"""QuestionFocusFeaturizer: the n-grams of the question a message ends with."""

from __future__ import annotations

from typing import List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.question_focus import QuestionFocusFeaturizer, question_start


@pytest.mark.parametrize(
    "text, max_clauses, question",
    [
        ("where do I go", 0, "where do I go"),
        (
            "My brother does odd jobs. Nobody paid for him. How much is it?",
            0,
            "How much is it?",
        ),
        # the last sentence with a question mark, not a closing "Thanks."
        ("My dad is rural. Where does he go? Thanks.", 0, "Where does he go? Thanks."),
        ("My dad is rural. He wants to join", 0, "He wants to join"),
        # English commas are not clause breaks: English writers end sentences
        ("Hi, my mum is urban, she lost her job, what now?", 2, None),
        (
            "我弟弟在外面打零工，从来没人给他交社保，现在想自己交医保，一个月多少钱？",
            2,
            "现在想自己交医保，一个月多少钱？",
        ),
        (
            "我舅舅是农业户口 一辈子种地 一年要交多少 有标准吗",
            2,
            "一年要交多少 有标准吗",
        ),
        ("城镇户口，去哪办", 2, None),
        ("", 2, None),
    ],
)
def test_question_start(text: str, max_clauses: int, question: str) -> None:
    start = question_start(text, max_clauses)
    assert text[start:].strip() == (question or text).strip()


def tokenized(text: str, intent: str = "") -> Message:
    message = Message(data={TEXT: text, **({"intent": intent} if intent else {})})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    return message


@pytest.fixture
def featurizer(tmp_path) -> QuestionFocusFeaturizer:
    """Trained, persisted and loaded again, as ``rasa run`` loads it."""
    storage = LocalModelStorage(tmp_path)
    resource = Resource("question_focus")
    context = ExecutionContext(GraphSchema({}), node_name="question_focus")
    config = {**QuestionFocusFeaturizer.get_default_config(), "max_ngram": 2}
    examples = [
        tokenized("how much do I pay", "ask_payment_amount"),
        tokenized(
            "my company closed. who tells the agency?", "ask_agency_notification"
        ),
    ]
    trainer = QuestionFocusFeaturizer.create(config, storage, resource, context)
    trainer.train(TrainingData(examples))
    return QuestionFocusFeaturizer.load(config, storage, resource, context)


def word_counts(featurizer: QuestionFocusFeaturizer, message: Message) -> List[str]:
    """The words whose counts the question features carry."""
    featurizer.process([message])
    sequence, sentence = message.get_sparse_features(TEXT)
    assert sequence is None  # sentence features only: the classifier's input
    assert sentence is not None
    words = featurizer._words
    assert words is not None
    vocabulary = {index: word for word, index in words.vocabulary_.items()}
    row = sentence.features.tocsr()
    return sorted(vocabulary[i] for i in row.indices if i < len(vocabulary))


def test_a_one_sentence_message_is_its_own_question(featurizer) -> None:
    assert word_counts(featurizer, tokenized("how much do I pay")) == [
        "do",
        "how",
        "i",
        "much",
        "pay",
    ]


def test_a_story_counts_only_the_words_of_its_question(featurizer) -> None:
    message = tokenized("my company closed and the agency was told. how much do I pay?")
    # "company", "closed", "agency" (in the vocabulary) are the story's, not counted
    assert word_counts(featurizer, message) == ["do", "how", "i", "much", "pay"]


def test_messages_without_tokens_get_no_features(featurizer) -> None:
    message = Message(data={TEXT: "how much"})
    featurizer.process([message])
    assert message.get_sparse_features(TEXT) == (None, None)
