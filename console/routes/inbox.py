"""The NLU inbox: low-confidence and fallback user turns to relabel quickly."""

from __future__ import annotations

from typing import Any, Dict

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect
from sqlalchemy.engine import Connection

from console import repository as repo
from console.web import current_staff, render, staff_required


def build() -> Blueprint:
    """The inbox of low-confidence turns to relabel."""
    bp = Blueprint("inbox")
    bp.add_route(inbox_page, "/inbox", methods=["GET"])
    bp.add_route(relabel, "/inbox/relabel", methods=["POST"])
    bp.add_route(dismiss, "/inbox/dismiss", methods=["POST"])
    return bp


@staff_required
async def inbox_page(request: Request) -> HTTPResponse:
    """The open inbox items and recent flags."""

    def work(connection: Connection) -> Dict[str, Any]:
        return {
            "items": repo.inbox(connection),
            "flags": repo.recent_flags(connection),
        }

    data = await request.app.ctx.db.run(work)
    return render(request, "inbox.html", intents=request.app.ctx.intents, **data)


def _item_id(request: Request) -> int:
    try:
        return int(request.form.get("item") or "")
    except ValueError:
        return 0


@staff_required
async def relabel(request: Request) -> HTTPResponse:
    """Record the correct intent for a turn, for the NLU export; audited."""
    item_id = _item_id(request)
    correct = (request.form.get("intent") or "").strip()
    intents = request.app.ctx.intents
    if not correct or (intents and correct not in intents):
        return render(request, "error.html", status=400, message="bad_request")
    staff = current_staff(request).username

    def work(connection: Connection) -> bool:
        item = repo.inbox_item(connection, item_id)
        if item is None:
            return False
        repo.flag_turn(
            connection,
            item.conversation_id,
            item.event_id,
            item.text,
            item.intent,
            correct,
            staff,
        )
        repo.add_audit(
            connection,
            staff,
            "flag_turn",
            item.sender_id,
            {"event_id": item.event_id, "predicted": item.intent, "correct": correct},
        )
        return True

    if not await request.app.ctx.db.run(work):
        return render(request, "error.html", status=404, message="not_found")
    return redirect("/inbox")


@staff_required
async def dismiss(request: Request) -> HTTPResponse:
    """Dismiss a turn that needs no correction; audited."""
    item_id = _item_id(request)
    staff = current_staff(request).username

    def work(connection: Connection) -> bool:
        item = repo.inbox_item(connection, item_id)
        if item is None:
            return False
        repo.dismiss_inbox_item(connection, item_id)
        repo.add_audit(
            connection,
            staff,
            "dismiss_inbox",
            item.sender_id,
            {"event_id": item.event_id},
        )
        return True

    if not await request.app.ctx.db.run(work):
        return render(request, "error.html", status=404, message="not_found")
    return redirect("/inbox")
