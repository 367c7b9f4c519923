"""Domain vocabulary: the phrases residents use, mapped to canonical values.

This table is the one source for both the spaCy ``entity_ruler`` (which finds
the phrases) and :class:`bot.nlu.components.EntityCanonicalizer` (which turns
"农业户口", "rural hukou" or "farmer" into ``agricultural``), so slot values are
always canonical whatever words the resident used.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

# label -> canonical value -> phrases (English phrases are matched case-insensitively)
ENTITY_PHRASES: Dict[str, Dict[str, List[str]]] = {
    "residency_type": {
        "urban": [
            "urban",
            "urban resident",
            "urban registered resident",
            "urban hukou",
            "urban household registration",
            "city hukou",
            "city resident",
            "non-agricultural",
            "城镇",
            "城镇户口",
            "城镇户籍",
            "城镇居民",
            "城市户口",
            "城市户籍",
            "城里户口",
            "非农业户口",
            "非农户口",
            "居民户口",
            # residents' colloquial and pinyin terms
            "农转非",
            "非农",
            "城里人",
            "户口在城里",
            # nlu3: a move of the household registration to the city
            "户口迁到城里",
            "户口迁到了城里",
            "户口迁到城市",
            "户口迁进城",
            "户口转到城里",
            "户口转成城镇",
            "迁成城镇户口",
            "moved my hukou to the city",
            "hukou moved to the city",
            "hukou was moved to the city",
            "hukou was transferred to the city",
            "transferred my hukou to the city",
            "户口在城市",
            "户口在城镇",
            "hukou is in the city",
            "registered in the city",
            "registered in town",
            "town hukou",
            "urban household",
            "non agricultural",
            "non-agricultural hukou",
            "chengzhen hukou",
            "chengshi hukou",
            "feinong hukou",
            "nong zhuan fei",
            "nongzhuanfei",
            # nlu2: answers and corrections as residents phrase them
            "城镇的户口",
            "城市的户口",
            "城里的户口",
            "市区户口",
            "城区户口",
            "县城户口",
            "镇上户口",
            "城镇居民户口",
            "非农业",
            "非农业户籍",
            "非农业人口",
            "城镇人口",
            "city household",
            "city household registration",
            "urban registration",
            "city registration",
            "town resident",
            "non-farming",
            "non farming",
            "the urban one",
            "the city one",
            "cheng zhen",
        ],
        "agricultural": [
            "agricultural",
            "agricultural hukou",
            "agricultural registered population",
            "agricultural household registration",
            "rural",
            "rural hukou",
            "rural resident",
            "farmer",
            "village hukou",
            "countryside",
            "农业",
            "农业户口",
            "农业户籍",
            "农村",
            "农村户口",
            "农村户籍",
            "农民",
            "农户",
            "农村居民",
            "乡下户口",
            # the rural cooperative scheme names the agricultural case
            "新农合",
            "新型农村合作医疗",
            "农村合作医疗",
            "xinnonghe",
            "xin nong he",
            "xinnong he",
            "nongcun hukou",
            "nongye hukou",
            "rural household registration",
            "rural registered",
            "countryside hukou",
            "户口在农村",
            "户口在村里",
            # nlu3: where the household is registered, as residents say it
            "registered in the village",
            "registered in the country",
            "hukou in the countryside",
            "hukou in the village",
            "village registration",
            "nongcun",
            "户口在老家农村",
            "户口还在农村",
            "户口还在村里",
            "还是农村户口",
            "户口在乡下",
            "hukou is in the village",
            "hukou is in the countryside",
            "registered in a village",
            "registered in the countryside",
            # nlu2: answers and corrections as residents phrase them
            "农村的户口",
            "农业的户口",
            "乡下的户口",
            "村里的户口",
            "农村人",
            "乡下人",
            "村里人",
            "农业人口",
            "农村人口",
            "agriculture",
            "agriculture hukou",
            "rural household",
            "agricultural household",
            "rural registration",
            "agricultural registration",
            "farming hukou",
            "farm hukou",
            "peasant",
            "countryside registration",
            "the rural one",
            "the agricultural one",
            "nong ye",
            "nong cun",
        ],
    },
    "document": {
        "id_card": [
            "id card",
            "identity card",
            "resident identity card",
            "身份证",
            "居民身份证",
        ],
        "household_register": [
            "household registration book",
            "household register",
            "hukou book",
            "hukou booklet",
            "户口本",
            "户口簿",
            "户口薄",
            "户籍簿",
        ],
        "unemployment_certificate": [
            "unemployment certificate",
            "unemployment card",
            "失业证",
            "失业证明",
            "就业失业登记证",
            "失业登记证",
        ],
        "photo_receipt": [
            "digital photo receipt",
            "photo receipt",
            "digital photo",
            "数码照片回执",
            "照片回执",
            "数码回执",
            "相片回执",
        ],
        "bank_passbook": [
            "bank passbook",
            "passbook",
            "bankbook",
            "银行存折",
            "存折",
        ],
        # The seed names these three together ("business license, registration
        # certificate or unit seal"), so they share one value and one answer.
        "employer_documents": [
            "business license",
            "business licence",
            "营业执照",
            "registration certificate",
            "登记证书",
            "登记证",
            "unit seal",
            "company seal",
            "official seal",
            "单位印章",
            "公章",
            "印章",
        ],
        "social_insurance_certificate": [
            "social insurance registration certificate",
            "社会保险登记证",
            "社保登记证",
        ],
    },
    "place": {
        "social_security_agency": [
            "social security agency",
            "social insurance agency",
            "social security bureau",
            "社保经办机构",
            "社会保险经办机构",
            "社保局",
            "社保中心",
            "社保所",
            "shebaoju",
            "shebao ju",
            "shebao bureau",
            "shebao office",
        ],
        "village_committee": [
            "village committee",
            "cunweihui",
            "cun weihui",
            "村委会",
            "村民委员会",
            "村委",
        ],
        "neighbourhood_committee": [
            "neighborhood committee",
            "neighbourhood committee",
            "community committee",
            "居委会",
            "社区居委会",
            "juweihui",
            "ju weihui",
            "居委",
            "社区",
        ],
        "service_outlet": [
            "service outlet",
            "business outlet",
            "service hall",
            "服务网点",
            "营业网点",
            "服务大厅",
            "经办网点",
        ],
    },
    "organisation": {
        "market_supervision": [
            "market supervision and management department",
            "market supervision",
            "市场监督管理部门",
            "市场监管部门",
            "市场监管局",
            "工商局",
        ],
        "civil_affairs": [
            "civil affairs department",
            "civil affairs",
            "民政部门",
            "民政局",
        ],
        "organisation_management": [
            "organization management organ",
            "organisation management organ",
            "机构编制管理机关",
            "编制管理机关",
            "编办",
        ],
        "public_security": [
            "public security organ",
            "public security",
            "police",
            "公安机关",
            "公安局",
            "派出所",
            "公安",
        ],
    },
}

# Labels whose values fill slots; the rest are extracted for review and analytics.
SLOT_ENTITY_LABELS = ("residency_type", "document")


def iter_phrases() -> List[Tuple[str, str, str]]:
    """Every (label, canonical value, phrase) triple, longest phrase first."""
    rows = [
        (label, value, phrase)
        for label, values in ENTITY_PHRASES.items()
        for value, phrases in values.items()
        for phrase in phrases
    ]
    return sorted(rows, key=lambda row: -len(row[2]))


def canonical_lookup() -> Dict[Tuple[str, str], str]:
    """Map (label, lower-cased phrase) to its canonical value."""
    return {(label, phrase.lower()): value for label, value, phrase in iter_phrases()}


def canonical_values(label: str) -> List[str]:
    """The canonical values a label can take (e.g. ``urban``, ``agricultural``)."""
    return list(ENTITY_PHRASES[label])
