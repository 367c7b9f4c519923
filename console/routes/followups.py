"""Handoff follow-ups: conversations where a resident asked for a person."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect
from sqlalchemy.engine import Connection

from console import repository as repo
from console.web import current_staff, render, staff_required


def build() -> Blueprint:
    """The handoff follow-up queue."""
    bp = Blueprint("followups")
    bp.add_route(queue, "/followups", methods=["GET"])
    bp.add_route(claim, "/followups/claim", methods=["POST"])
    bp.add_route(close, "/followups/close", methods=["POST"])
    return bp


@staff_required
async def queue(request: Request) -> HTTPResponse:
    """Handoffs waiting for a person, optionally with closed ones."""
    include_closed = request.args.get("closed") == "1"
    rows = await request.app.ctx.db.run(
        lambda c: repo.followup_queue(c, include_closed)
    )
    return render(request, "followups.html", rows=rows, include_closed=include_closed)


async def _update(request: Request, action: str) -> HTTPResponse:
    sender_id = (request.form.get("id") or "")[:255]
    outcome = (request.form.get("outcome") or "").strip()
    staff = current_staff(request).username

    def work(connection: Connection) -> bool:
        row = repo.get_conversation(connection, sender_id)
        if row is None:
            return False
        if action == "claim_followup":
            changed = repo.claim_followup(connection, row.id, staff)
        else:
            changed = repo.close_followup(connection, row.id, outcome)
        if changed:
            repo.add_audit(
                connection, staff, action, sender_id, {"outcome_chars": len(outcome)}
            )
        return True

    if not await request.app.ctx.db.run(work):
        return render(request, "error.html", status=404, message="not_found")
    return redirect("/followups")


@staff_required
async def claim(request: Request) -> HTTPResponse:
    """Take a follow-up, so two staff do not call the same person."""
    return await _update(request, "claim_followup")


@staff_required
async def close(request: Request) -> HTTPResponse:
    """Close a follow-up with its outcome."""
    return await _update(request, "close_followup")
