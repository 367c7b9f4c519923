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
# Full-width punctuation (，。？！、：；) comes from a Chinese input method.
_FULL_WIDTH_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f]")

# Pinyin residents type when they cannot (or will not) switch input method.
# Words of a Chinese sentence ("zenme", "nali") count as Chinese; the domain's
# nouns ("hukou", "yibao", "xinnonghe") are written by English speakers too, so
# they count for neither language.  Syllables that are also common English
# words ("you", "ban", "he", "me", "can") are left out.
_PINYIN_SENTENCE_WORDS = frozenset(
    """
    zenme zenmeban zenyang zenmejiao nali naer nar shenme duoshao duoshaoqian
    xuyao keyi nengbuneng wo wode women nin ni nide ta tade de le ne ba
    jiao jiaofei banli qu dai cailiao zhidao buzhidao bu mei meiyou shi bushi
    xiexie zaijian nihao chaxun cha zai zhege nage haishi huozhe yiqian xianzai
    """.split()
)
_PINYIN_DOMAIN_WORDS = frozenset(
    """
    hukou shebao yibao xinnonghe shebaoju nongcun chengzhen chengshi nongye
    juweihui cunweihui nongzhuanfei feinong xin nong zhuan fei ju hui
    """.split()
)


def detect_language(text: Optional[str]) -> Optional[str]:
    """Return ``"zh"``, ``"en"`` or ``None`` when the text carries no signal.

    ``None`` (emoji, digits, button payloads such as ``/greet``) means "keep the
    language the conversation already has".  One Chinese character weighs as much
    as one English word, so "我要交医保 thanks" is Chinese and
    "how do I pay 医保" is English; a pinyin sentence ("xinnonghe zai nali ban")
    is Chinese, and a lone pinyin term ("hukou") keeps the conversation's.
    """
    if not text or text.lstrip().startswith("/"):
        return None
    words = [word.lower() for word in _LATIN_WORD.findall(text)]
    # "yibao zenme jiao" is Chinese in pinyin; "hukou" alone says nothing.
    chinese = len(CJK.findall(text)) + sum(w in _PINYIN_SENTENCE_WORDS for w in words)
    english = sum(
        w not in _PINYIN_SENTENCE_WORDS and w not in _PINYIN_DOMAIN_WORDS for w in words
    )
    if chinese == 0 and english == 0:
        # "，，，。。。" has no words, but was typed with a Chinese keyboard.
        return ZH if _FULL_WIDTH_PUNCTUATION.search(text) else None
    # Ties go to Chinese: a Chinese-speaking resident often quotes English terms.
    return ZH if chinese >= english else EN


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
