"""Language layer: language detection, domain entity patterns and the spaCy pipeline."""

from bot.language.detect import detect_language

__all__ = ["detect_language"]
