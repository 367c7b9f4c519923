"""The Rasa server's language layer: jieba tokenizer, spaCy pipeline, year mentions.

Language detection and the domain vocabulary are shared with the action server
and live in :mod:`common.language` and :mod:`common.vocabulary`.
"""
