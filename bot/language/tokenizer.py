"""A jieba tokenizer for spaCy that knows the domain vocabulary.

Plain jieba cuts "失业证在哪里开" as "失业 / 证在 / 哪里 / 开", splitting the
document name across tokens so no entity pattern can match it.  This tokenizer
uses a private ``jieba.Tokenizer`` (the global one stays untouched) with every
Chinese domain phrase of :mod:`common.vocabulary` added as a word, so domain
terms come out whole wherever they stand.

It is registered with spaCy under ``shebao.domain_jieba.v1`` both by decorator
and by a ``spacy_tokenizers`` entry point (``pyproject.toml``), so
``spacy.load()`` — and therefore Rasa's ``SpacyNLP`` — finds it without our
code having to be imported first.
"""

from __future__ import annotations

import logging
from typing import Callable

import jieba
from spacy.lang.zh import ChineseTokenizer, Segmenter
from spacy.language import Language
from spacy.util import registry
from spacy.vocab import Vocab

from common.language import CJK
from common.vocabulary import iter_phrases

TOKENIZER_NAME = "shebao.domain_jieba.v1"


def domain_segmenter() -> jieba.Tokenizer:
    """A jieba segmenter that keeps every Chinese domain phrase in one piece."""
    jieba.setLogLevel(logging.WARNING)
    segmenter = jieba.Tokenizer()
    for _, _, phrase in iter_phrases():
        if CJK.search(phrase):
            segmenter.add_word(phrase)
            segmenter.suggest_freq(phrase, tune=True)
    return segmenter


class DomainJiebaTokenizer(ChineseTokenizer):
    """spaCy's jieba-based Chinese tokenizer with the domain dictionary."""

    def __init__(self, vocab: Vocab) -> None:
        jieba.setLogLevel(logging.WARNING)  # spaCy initialises the global jieba too
        super().__init__(vocab, segmenter=Segmenter.jieba)
        self.jieba_seg = domain_segmenter()


@registry.tokenizers(TOKENIZER_NAME)
def create_domain_tokenizer() -> Callable[[Language], DomainJiebaTokenizer]:
    """Registered with spaCy so the pipeline config can name the domain tokenizer."""

    def make(nlp: Language) -> DomainJiebaTokenizer:
        return DomainJiebaTokenizer(nlp.vocab)

    return make
