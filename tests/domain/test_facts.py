"""Every fact of the bureau's guidance stays in the answers, in both languages.

The guidance text (../shared/seeds/000_8ff13995ec7325de.txt) is the only
source of what the assistant states. Whatever the wording of a response, the
variation a resident gets, in English and in Chinese, must still carry each
fact of the guidance it answers from, and where the guidance is silent it must
point to 12333. The responses are read from domain.yml and each variation is
picked as Rasa picks it; every check is a case-insensitive substring check.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple, Union

import pytest
from rasa.core.nlg.generator import ResponseVariationFilter

LANGUAGES = ("en", "zh")

# A fact is one phrase per language; a tuple lists equivalent phrasings.
Phrase = Union[str, Tuple[str, ...]]
Fact = Dict[str, Phrase]

AGENCY: Fact = {"en": "agency", "zh": "经办机构"}
URBAN_DOCUMENTS: List[Fact] = [
    {"en": "ID card", "zh": "身份证"},
    {"en": "household registration book", "zh": "户口本"},
    {"en": "unemployment certificate", "zh": "失业证"},
    {"en": "digital photo receipt", "zh": "数码照片回执"},
    {"en": "bank passbook", "zh": "银行存折"},
]
URBAN: List[Fact] = [AGENCY, *URBAN_DOCUMENTS]
APPROVED_AMOUNT: Fact = {"en": "amount approved by the agency", "zh": "核定的金额"}
RURAL: List[Fact] = [
    {"en": "village committee", "zh": "村委会"},
    {"en": "neighbourhood committee", "zh": "居委会"},
    {"en": "where your household is registered", "zh": "户口所在地"},
]
THIRTY_DAYS: Fact = {"en": "30 days", "zh": ("30日", "三十日")}
FIFTEEN_DAYS: Fact = {"en": "15 days", "zh": ("15日", "十五日")}
EMPLOYER_DOCUMENTS: List[Fact] = [
    {"en": "business licence", "zh": "营业执照"},
    {"en": "registration certificate", "zh": "登记证书"},
    {"en": "unit seal", "zh": "单位印章"},
]
HOTLINE: Fact = {"en": "12333", "zh": "12333"}

# (response, the slots it is conditioned on, the facts its variation must carry)
CASES: List[Tuple[str, Dict[str, Optional[str]], List[Fact]]] = [
    # paying medical insurance yourself: urban and agricultural hukou
    ("utter_payment_guidance", {"residency_type": "urban"}, URBAN + [APPROVED_AMOUNT]),
    ("utter_payment_guidance", {"residency_type": "agricultural"}, RURAL),
    (
        "utter_payment_guidance",
        {"residency_type": None},
        URBAN + [APPROVED_AMOUNT] + RURAL,
    ),
    ("utter_residency_not_sure", {}, URBAN + [APPROVED_AMOUNT] + RURAL + [HOTLINE]),
    ("utter_materials", {"residency_type": "urban"}, URBAN),
    ("utter_materials", {"residency_type": "agricultural"}, RURAL),
    ("utter_materials", {"residency_type": None}, URBAN + RURAL),
    ("utter_where", {"residency_type": "urban"}, URBAN),
    ("utter_where", {"residency_type": "agricultural"}, RURAL),
    ("utter_where", {"residency_type": None}, [AGENCY] + RURAL),
    ("utter_amount", {"residency_type": "urban"}, [APPROVED_AMOUNT, HOTLINE]),
    ("utter_amount", {"residency_type": "agricultural"}, RURAL + [HOTLINE]),
    ("utter_amount", {"residency_type": None}, [APPROVED_AMOUNT, HOTLINE]),
    ("utter_document", {"document": None}, URBAN + [HOTLINE]),
    *[
        ("utter_document", {"document": slot}, [AGENCY, fact, HOTLINE])
        for slot, fact in zip(
            [
                "id_card",
                "household_register",
                "unemployment_certificate",
                "photo_receipt",
                "bank_passbook",
            ],
            URBAN_DOCUMENTS,
            strict=True,
        )
    ],
    # employers (Article 57)
    (
        "utter_employer_registration",
        {},
        [
            {"en": "Article 57", "zh": "第五十七条"},
            {"en": "local social insurance agency", "zh": "当地社会保险经办机构"},
            THIRTY_DAYS,
            *EMPLOYER_DOCUMENTS,
            {"en": "examines", "zh": "审核"},
            FIFTEEN_DAYS,
        ],
    ),
    (
        "utter_document",
        {"document": "employer_documents"},
        [AGENCY, THIRTY_DAYS, *EMPLOYER_DOCUMENTS],
    ),
    (
        "utter_document",
        {"document": "social_insurance_certificate"},
        [AGENCY, {"en": "examines", "zh": "审核"}, FIFTEEN_DAYS],
    ),
    (
        "utter_employer_change",
        {},
        [
            AGENCY,
            THIRTY_DAYS,
            {"en": "change", "zh": "变更"},
            {"en": "cancel", "zh": "注销"},
        ],
    ),
    (
        "utter_agency_notification",
        {},
        [
            AGENCY,
            {"en": "market supervision", "zh": "市场监督管理"},
            {"en": "civil affairs", "zh": "民政"},
            {
                "en": ("organisation management", "organization management"),
                "zh": "机构编制",
            },
            {"en": "public security", "zh": "公安"},
            {"en": "births", "zh": "出生"},
            {"en": "deaths", "zh": "死亡"},
            {"en": "moved", "zh": "迁移"},
            {"en": "cancelled", "zh": "注销"},
        ],
    ),
    # why the records inquiry asks for the ID number: its use, and the seed's
    # own ways of checking, which ask for it (or the ID card) too
    (
        "utter_why_id_number",
        {},
        [
            {"en": "your own", "zh": "本人"},
            {"en": "one-time code", "zh": "验证码"},
            {"en": "ID number and password", "zh": "身份证号和密码"},
            {"en": "ID card", "zh": "身份证"},
            {"en": "household registration book", "zh": "户口本"},
            {"en": "service outlet", "zh": "服务网点"},
            HOTLINE,
        ],
    ),
    # where the guidance is silent
    ("utter_guidance_silent", {}, [AGENCY, HOTLINE]),
    ("utter_out_of_scope", {}, [AGENCY, HOTLINE]),
]

# The three ways of checking payments, one numbered line each.
CHECK_WAYS: List[List[Fact]] = [
    [{"en": "city", "zh": "本市"}, {"en": "website", "zh": "网"}],
    [
        {"en": "service outlet", "zh": "服务网点"},
        {"en": "ID card", "zh": "身份证"},
        {"en": "household registration book", "zh": "户口本"},
    ],
    [
        {"en": "website", "zh": "网"},
        {"en": "ID number", "zh": "身份证号"},
        {"en": "password", "zh": "密码"},
    ],
]

# Words a variation uses when it says the guidance does not answer something.
SILENT = {
    "en": (
        "doesn't say",
        "doesn't list",
        "doesn't state",
        "doesn't cover",
        "says nothing",
        "gives no",
        "no figures",
        "won't guess",
    ),
    "zh": ("没有写", "没有列出", "没有说明", "没有具体", "规定里没有", "不想乱说"),
}

# Machine-translated wording the English answers no longer use (a quote of the
# law, between double quotes, may still use it, and is then explained).
NOT_PLAIN = (
    "registered resident",
    "registered population",
    "employing unit",
    "organisation management organ",
    "organization management organ",
    "community neighbourhood committee",
    "social security agency",
    "relevant information",
    "make up",
)
QUOTED = re.compile(r'"[^"]*"')


def text_of(domain: Dict[str, Any], response: str, language: str, slots: Dict) -> str:
    filled = {"language": language, **slots}
    chooser = ResponseVariationFilter(domain["responses"])
    chosen = chooser.responses_for_utter_action(response, "rest", filled)
    assert len(chosen) == 1, f"{response} {filled}: {len(chosen)} variations"
    return chosen[0]["text"]


def missing(text: str, facts: List[Fact], language: str) -> List[Phrase]:
    lowered = text.lower()
    absent = []
    for fact in facts:
        phrase = fact[language]
        options = (phrase,) if isinstance(phrase, str) else phrase
        if not any(option.lower() in lowered for option in options):
            absent.append(phrase)
    return absent


def english_variations(domain: Dict[str, Any]):
    for name, variations in domain["responses"].items():
        for variation in variations:
            conditions = variation.get("condition") or []
            if {"name": "language", "type": "slot", "value": "zh"} in conditions:
                continue
            yield name, variation


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    "response, slots, facts",
    CASES,
    ids=[
        f"{name}-{'-'.join(map(str, slots.values())) or 'any'}"
        for name, slots, _ in CASES
    ],
)
def test_each_answer_carries_the_guidance_facts(
    domain, response, slots, facts, language
):
    text = text_of(domain, response, language, slots)
    assert missing(text, facts, language) == [], text


@pytest.mark.parametrize("language", LANGUAGES)
def test_checking_payments_gives_the_three_ways(domain, language):
    text = text_of(domain, "utter_check_payment", language, {})
    ways = [line for line in text.splitlines() if re.match(r"\d\.", line)]
    assert len(ways) == 3, text
    assert {"en": "three ways", "zh": "三种方式"}[language] in text.lower()
    for way, facts in zip(ways, CHECK_WAYS, strict=True):
        assert missing(way, facts, language) == [], way


@pytest.mark.parametrize("language", LANGUAGES)
def test_where_the_guidance_is_silent_the_answer_points_to_12333(domain, language):
    silent = 0
    for name, variations in domain["responses"].items():
        for variation in variations:
            text = variation["text"]
            in_chinese = bool(re.search(r"[\u4e00-\u9fff]", text))
            if in_chinese != (language == "zh"):
                continue
            if any(marker in text.lower() for marker in SILENT[language]):
                silent += 1
                assert "12333" in text, f"{name}: {text}"
    assert silent >= 10  # the markers still find the answers they are meant for


def test_english_answers_use_plain_words(domain):
    for name, variation in english_variations(domain):
        for text in [variation["text"]] + [
            b["title"] for b in variation.get("buttons", [])
        ]:
            unquoted = QUOTED.sub("", text).lower()
            for phrase in NOT_PLAIN:
                assert phrase not in unquoted, f"{name}: {phrase!r} in {text!r}"


def test_a_quoted_term_of_the_law_is_explained(domain):
    text = text_of(domain, "utter_agency_notification", "en", {})
    quote = '"organization management organ":'
    assert quote in text, text
    assert "public bodies" in text.split(quote, 1)[1]


def test_residency_buttons_use_residents_words(domain):
    for language, titles in (
        ("en", ["Urban hukou", "Rural hukou"]),
        ("zh", ["城镇户口", "农业户口"]),
    ):
        for response in ("utter_ask_residency_type", "utter_residency_not_sure"):
            chooser = ResponseVariationFilter(domain["responses"])
            chosen = chooser.responses_for_utter_action(
                response, "rest", {"language": language}
            )
            assert [b["title"] for b in chosen[0]["buttons"]] == titles, response
