"""What the records answers say: months, amounts, payments and notes, in English and Chinese.

The inquiry actions (:mod:`actions.inquiry`) fetch the figures; this module only
words them for the slots ``utter_inquiry_result`` fills ("January–June 2025" /
"2025年1月至6月", "none" / "无").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Dict, List, Optional, Tuple

from actions.backend_client import Contribution, ContributionSummary
from common.money import display_amount

# ---- wording of months, amounts and payments (English / Chinese) ----------------
MONTHS_EN = (
    "January February March April May June July August September October "
    "November December"
).split()
NONE_WORD = {"en": "none", "zh": "无"}


def _lang(language: Optional[str]) -> str:
    return "zh" if language == "zh" else "en"


def _ym(period: str) -> Tuple[int, int]:
    year, month = period.split("-")
    return int(year), int(month)


def month_name(period: str, language: Optional[str] = "en") -> str:
    """ "2025-06" -> "June 2025" / "2025年6月"."""
    year, month = _ym(period)
    if _lang(language) == "zh":
        return f"{year}年{month}月"
    return f"{MONTHS_EN[month - 1]} {year}"


def _runs(periods: List[str]) -> List[List[str]]:
    """Sorted periods grouped into runs of consecutive months."""
    ordered = sorted(set(periods))
    runs: List[List[str]] = []
    for period in ordered:
        if runs:
            year, month = _ym(runs[-1][-1])
            following = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
            if period == following:
                runs[-1].append(period)
                continue
        runs.append([period])
    return runs


def _run_text(first: str, last: str, language: str) -> str:
    (y1, m1), (y2, m2) = _ym(first), _ym(last)
    if language == "zh":
        if y1 == y2:
            return f"{y1}年{m1}月至{m2}月"
        return f"{y1}年{m1}月至{y2}年{m2}月"
    if y1 == y2:
        return f"{MONTHS_EN[m1 - 1]}–{MONTHS_EN[m2 - 1]} {y1}"
    return f"{MONTHS_EN[m1 - 1]} {y1}–{MONTHS_EN[m2 - 1]} {y2}"


def month_list(periods: List[str], language: Optional[str] = "en") -> str:
    """Months as a reader says them.

    en: "January–March 2025, May 2025"; zh: "2025年1月至3月、2025年5月";
    no months: "none" / "无".
    """
    lang = _lang(language)
    if not periods:
        return NONE_WORD[lang]
    parts = [
        month_name(run[0], lang) if len(run) == 1 else _run_text(run[0], run[-1], lang)
        for run in _runs(periods)
    ]
    return ("、" if lang == "zh" else ", ").join(parts)


def money(amount: Decimal) -> str:
    """An amount as residents read it (``"1,234.00"``)."""
    return display_amount(amount)


def day_text(day: date, language: Optional[str] = "en") -> str:
    """A date in the user's language, since ISO dates read oddly in a chat."""
    if _lang(language) == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def payment_text(
    payment: Optional[Contribution], language: Optional[str] = "en"
) -> str:
    """ "June 2025, ¥35.00 (paid on 15 June 2025)" / "2025年6月，¥35.00（2025年6月15日缴纳）"."""
    lang = _lang(language)
    if payment is None:
        return NONE_WORD[lang]
    if lang == "zh":
        return (
            f"{month_name(payment.period, lang)}，¥{money(payment.amount)}"
            f"（{day_text(payment.paid_on, lang)}缴纳）"
        )
    return (
        f"{month_name(payment.period, lang)}, ¥{money(payment.amount)}"
        f" (paid on {day_text(payment.paid_on, lang)})"
    )


@dataclass(frozen=True)
class YearFigures:
    """One year as the resident should read it.

    The backend counts every month from enrolment up to the current month
    without a *paid* record as owed; pending and refunded months are shown
    as such instead, so ``owed`` leaves them out.
    """

    year: int
    paid: Tuple[str, ...]
    pending: Tuple[str, ...]
    refunded: Tuple[str, ...]
    owed: Tuple[str, ...]
    owed_amount: Decimal
    total_paid: Decimal
    last_payment: Optional[Contribution]  # latest paid contribution of this year
    enrollment_status: str


def year_figures(summary: ContributionSummary) -> YearFigures:
    """Sort the year's records into paid, pending, refunded and owed, each month
    once."""
    records = summary.contributions
    pending = tuple(c.period for c in records if c.status == "pending")
    refunded = tuple(c.period for c in records if c.status == "refunded")
    shown_elsewhere = set(pending) | set(refunded)
    owed = tuple(m for m in summary.arrears.months if m not in shown_elsewhere)
    if len(owed) == summary.arrears.count:
        owed_amount = summary.arrears.amount
    else:
        owed_amount = (summary.enrollment.monthly_amount * len(owed)).quantize(
            Decimal("0.01")
        )
    paid = [c for c in records if c.status == "paid"]
    last = max(paid, key=lambda c: (c.paid_on, c.period), default=None)
    return YearFigures(
        year=summary.year,
        paid=summary.paid_months,
        pending=pending,
        refunded=refunded,
        owed=owed,
        owed_amount=owed_amount,
        total_paid=summary.total_paid,
        last_payment=last,
        enrollment_status=summary.enrollment.status,
    )


def _current_month_note(figures: YearFigures, today: date, lang: str) -> str:
    """Says the current month is counted, when the year asked is this year."""
    if figures.year != today.year or not figures.owed:
        return ""
    this_month = month_name(f"{today.year:04d}-{today.month:02d}", lang)
    if lang == "zh":
        return f"（计算到本月，即{this_month}）"
    return f", counted up to and including {this_month}, the current month"


STATUS_ZH = {"suspended": "暂停", "terminated": "终止"}


def status_notes(figures: YearFigures, today: date, language: Optional[str]) -> str:
    """Extra answer lines: the current month, pending and refunded months, an
    enrolment that is not active ("" if none)."""
    lang = _lang(language)
    zh = lang == "zh"
    lines = []
    note = _current_month_note(figures, today, lang)
    if note:
        lines.append(f"- 欠费{note}" if zh else f"- Months owed are{note.lstrip(',')}")
    pending = month_list(list(figures.pending), lang)
    refunded = month_list(list(figures.refunded), lang)
    if figures.pending:
        lines.append(
            f"- 处理中（待确认，未计入已缴）：{pending}"
            if zh
            else f"- Pending (not yet confirmed, not counted as paid): {pending}"
        )
    if figures.refunded:
        lines.append(
            f"- 已退费（不计入已缴）：{refunded}"
            if zh
            else f"- Refunded (not counted as paid): {refunded}"
        )
    status = figures.enrollment_status
    if status != "active":
        lines.append(
            f"- 您的参保状态为“{STATUS_ZH.get(status, status)}”，期间不计欠费"
            if zh
            else f"- Your enrolment is {status}: no months are counted as owed "
            "while it is"
        )
    return "".join("\n" + line for line in lines)


def summary_slots(
    summary: ContributionSummary,
    language: Optional[str] = "en",
    today: Optional[date] = None,
) -> Dict[str, Any]:
    """The slots ``utter_inquiry_result`` fills its one-year template with."""
    lang = _lang(language)
    today = today or date.today()
    figures = year_figures(summary)
    if summary.year < summary.enrollment.since.year:
        return {
            "inquiry_outcome": "not_enrolled",
            "inquiry_year": str(summary.year),
            "enrolled_since": month_name(
                summary.enrollment.since.strftime("%Y-%m"), lang
            ),
        }
    if summary.year > today.year:
        return {"inquiry_outcome": "future_year", "inquiry_year": str(summary.year)}
    last = payment_text(figures.last_payment, lang)
    if figures.last_payment is None:
        last = f"{summary.year}年无缴费" if lang == "zh" else f"none in {summary.year}"
    return {
        "inquiry_outcome": "in_arrears" if figures.owed else "paid_up",
        "inquiry_year": str(summary.year),
        "paid_months": month_list(list(figures.paid), lang),
        "paid_count": str(len(figures.paid)),
        "total_paid": money(figures.total_paid),
        "arrears_count": str(len(figures.owed)),
        "arrears_months": month_list(list(figures.owed), lang),
        "arrears_amount": money(figures.owed_amount),
        "inquiry_notes": status_notes(figures, today, lang),
        "last_payment": last,
    }


def _year_line(figures: YearFigures, today: date, lang: str) -> str:
    """ "- **2025**: paid 6 months (January–June 2025), ¥210.00; **owed: 6 months
    (July–December 2025), ¥210.00**" and the Chinese equivalent."""
    paid = month_list(list(figures.paid), lang)
    owed = month_list(list(figures.owed), lang)
    note = _current_month_note(figures, today, lang)
    if lang == "zh":
        line = f"- **{figures.year}年**："
        line += (
            f"已缴{len(figures.paid)}个月（{paid}），¥{money(figures.total_paid)}"
            if figures.paid
            else "已缴：无"
        )
        line += (
            f"；**欠费：{len(figures.owed)}个月（{owed}），"
            f"共¥{money(figures.owed_amount)}**{note}"
            if figures.owed
            else "；已全部缴清"
        )
        if figures.pending:
            line += f"；处理中（待确认）：{month_list(list(figures.pending), lang)}"
        if figures.refunded:
            line += f"；已退费：{month_list(list(figures.refunded), lang)}"
        return line
    line = f"- **{figures.year}**: "
    line += (
        f"paid {len(figures.paid)} months ({paid}), ¥{money(figures.total_paid)}"
        if figures.paid
        else "paid: none"
    )
    line += (
        f"; **owed: {len(figures.owed)} months ({owed}), "
        f"¥{money(figures.owed_amount)}**{note}"
        if figures.owed
        else "; paid in full"
    )
    if figures.pending:
        pending = month_list(list(figures.pending), lang)
        line += f"; pending (not yet counted as paid): {pending}"
    if figures.refunded:
        refunded = month_list(list(figures.refunded), lang)
        line += f"; refunded (not counted as paid): {refunded}"
    return line


def overview_slots(
    summaries: List[ContributionSummary],
    language: Optional[str] = "en",
    today: Optional[date] = None,
) -> Dict[str, Any]:
    """Every year since enrolment and the total owed, for a question naming no year."""
    lang = _lang(language)
    today = today or date.today()
    ordered = sorted(summaries, key=lambda s: s.year)
    enrollment = ordered[-1].enrollment
    years = [year_figures(s) for s in ordered if s.year >= enrollment.since.year]
    owing = [f for f in years if f.owed]
    months = sum(len(f.owed) for f in owing)
    amount = sum((f.owed_amount for f in owing), Decimal(0))
    if not owing:
        total = NONE_WORD[lang] if lang == "zh" else "nothing"
    elif lang == "zh":
        named = "、".join(f"{f.year}年" for f in owing)
        total = f"{months}个月，共¥{money(amount)}（{named}）"
    else:
        named = ", ".join(str(f.year) for f in owing)
        total = f"{months} months, ¥{money(amount)} (in {named})"
    notes = ""
    if owing:
        notes = (
            "\n欠缴月份的补缴事宜，请咨询当地社保经办机构或拨打 12333。"
            if lang == "zh"
            else "\nFor the months owed, please contact your local social insurance "
            "agency or call 12333."
        )
    last = max(
        (s.last_payment for s in ordered if s.last_payment is not None),
        key=lambda c: (c.paid_on, c.period),
        default=None,
    )
    return {
        "inquiry_outcome": "overview",
        "inquiry_year": None,
        "enrolled_since": month_name(enrollment.since.strftime("%Y-%m"), lang),
        "inquiry_details": "\n".join(_year_line(f, today, lang) for f in years),
        "total_owed": total,
        "last_payment": payment_text(last, lang),
        "inquiry_notes": notes,
    }
