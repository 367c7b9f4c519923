"""The dashboard over a chosen period, each chart's data also as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any, Dict, List

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw

from console import repository as repo
from console.summarize import CHANNELS
from console.web import render, staff_required

CHART_CHANNELS = (*CHANNELS, "other")


def build() -> Blueprint:
    """The dashboard and its CSV downloads."""
    bp = Blueprint("dashboard")
    bp.add_route(page, "/dashboard", methods=["GET"])
    bp.add_route(as_csv, "/dashboard.csv", methods=["GET"])
    return bp


def _period(request: Request) -> tuple:
    today = repo.today_local()
    default_from = (today - timedelta(days=13)).isoformat()

    def day(name: str, default: str) -> str:
        value = request.args.get(name) or ""
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            return default

    return day("from", default_from), day("to", today.isoformat())


def chart_data(board: repo.Dashboard) -> Dict[str, Any]:
    """The dashboard's series in the shape the chart script reads."""
    return {
        "days": board.days,
        "channels": {
            channel: [board.per_day.get(d, {}).get(channel, 0) for d in board.days]
            for channel in CHART_CHANNELS
        },
        "intents": {
            "labels": [name for name, _ in board.top_intents],
            "counts": [count for _, count in board.top_intents],
        },
    }


@staff_required
async def page(request: Request) -> HTTPResponse:
    """The dashboard for the requested period."""
    day_from, day_to = _period(request)
    board = await request.app.ctx.db.run(lambda c: repo.dashboard(c, day_from, day_to))
    return render(request, "dashboard.html", board=board, data=chart_data(board))


@staff_required
async def as_csv(request: Request) -> HTTPResponse:
    """One dashboard chart as CSV, for spreadsheets."""
    day_from, day_to = _period(request)
    chart = request.args.get("chart") or "per_day"
    board = await request.app.ctx.db.run(lambda c: repo.dashboard(c, day_from, day_to))
    rows: List[List[Any]]
    if chart == "intents":
        rows = [["intent", "user_turns"], *[[n, c] for n, c in board.top_intents]]
    elif chart == "rates":
        rows = [
            [
                "from",
                "to",
                "conversations",
                "containment_rate",
                "fallback_rate",
                "handoffs",
                "mean_wait_seconds",
                "open_followups",
                "rated",
                "mean_rating",
                "answered_rate",
            ],
            [
                board.day_from,
                board.day_to,
                board.total,
                _fmt(board.containment_rate),
                _fmt(board.fallback_rate),
                board.with_handoff,
                _fmt(board.mean_wait_seconds),
                board.open_followups,
                board.rated,
                _fmt(board.mean_rating),
                _fmt(board.answered_rate),
            ],
        ]
    else:
        chart = "per_day"
        rows = [["day", *CHART_CHANNELS]]
        for day in board.days:
            rows.append(
                [day, *[board.per_day.get(day, {}).get(c, 0) for c in CHART_CHANNELS]]
            )
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return raw(
        out.getvalue().encode("utf-8"),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{chart}_{day_from}_{day_to}.csv"'
        },
    )


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.4f}"
