"""Per-message language detection (Simplified Chinese vs English).

Residents write Chinese, the seed text is English, and many messages mix both
("我是urban户口"). We count scripts rather than run a model: it is exact for the
two languages we serve, costs microseconds and needs no download.
"""

from __future__ import annotations

import re
from typing import Optional

ZH = "zh"
EN = "en"
SUPPORTED_LANGUAGES = (EN, ZH)

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: Optional[str]) -> Optional[str]:
    """Return ``"zh"``, ``"en"`` or ``None`` when the text carries no signal.

    ``None`` (emoji, digits, button payloads such as ``/greet``) means "keep the
    language the conversation already has".  One Chinese character weighs as much
    as one English word, so "我要交医保 thanks" is Chinese and
    "how do I pay 医保" is English.
    """
    if not text or text.lstrip().startswith("/"):
        return None
    cjk = len(CJK.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if cjk == 0 and latin_words == 0:
        return None
    # Ties go to Chinese: a Chinese-speaking resident often quotes English terms.
    return ZH if cjk >= latin_words else EN


_ASKS_FOR = {
    EN: re.compile(r"english|英文|英语", re.IGNORECASE),
    ZH: re.compile(r"chinese|mandarin|中文|汉语|普通话|华语", re.IGNORECASE),
}


def requested_language(text: Optional[str]) -> Optional[str]:
    """The language a "please answer in …" request names, if exactly one.

    "请用英文回答" is written in Chinese but asks for English, so the language a
    request *names* wins over the language it is *written in*.
    """
    named = [lang for lang, pattern in _ASKS_FOR.items() if pattern.search(text or "")]
    return named[0] if len(named) == 1 else None
