"""The conversation list, one transcript, its annotations and the exports."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw, redirect
from sqlalchemy.engine import Connection

from console import repository as repo
from console.events import StoredEvent
from console.exports import nlu_yaml, stories_yaml
from console.transcript import build_turns
from console.web import current_staff, render, staff_required

MAX_EXPORT = 200


def build() -> Blueprint:
    """Conversation list, transcript, review actions and exports."""
    bp = Blueprint("conversations")
    bp.add_route(index, "/", methods=["GET"])
    bp.add_route(conversation_list, "/conversations", methods=["GET"])
    bp.add_route(transcript, "/conversation", methods=["GET"])
    bp.add_route(save_tags, "/conversation/tags", methods=["POST"])
    bp.add_route(save_note, "/conversation/note", methods=["POST"])
    bp.add_route(flag, "/conversation/flag", methods=["POST"])
    bp.add_route(review, "/conversation/review", methods=["POST"])
    bp.add_route(export_stories, "/export/stories", methods=["POST"])
    bp.add_route(export_nlu, "/export/nlu", methods=["POST"])
    return bp


@staff_required
async def index(request: Request) -> HTTPResponse:
    """The conversation list is the console's home page."""
    return redirect("/conversations")


@staff_required
async def conversation_list(request: Request) -> HTTPResponse:
    """Filtered, paged conversation list."""
    filters = repo.ListFilters.from_query(
        {k: request.args.get(k) or "" for k in request.args}
    )
    rows, next_cursor = await request.app.ctx.db.run(
        lambda c: repo.list_conversations(c, filters)
    )
    return render(
        request,
        "conversations.html",
        rows=rows,
        filters=filters,
        next_cursor=next_cursor,
    )


async def _events(request: Request, sender_id: str) -> List[StoredEvent]:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        None, request.app.ctx.source.events_for, sender_id
    )


@staff_required
async def transcript(request: Request) -> HTTPResponse:
    """One conversation's transcript with its annotations; viewing is audited."""
    sender_id = (request.args.get("id") or "")[:255]
    staff = current_staff(request).username
    events = await _events(request, sender_id) if sender_id else []

    def work(connection: Connection) -> Optional[Tuple[Any, Dict[str, Any]]]:
        row = repo.get_conversation(connection, sender_id)
        if row is None:
            return None
        annotations = repo.conversation_annotations(connection, row.id)
        repo.add_audit(connection, staff, "view_transcript", sender_id)
        return row, annotations

    found = await request.app.ctx.db.run(work)
    if found is None:
        return render(request, "error.html", status=404, message="not_found")
    row, annotations = found
    return render(
        request,
        "transcript.html",
        conversation=row,
        turns=build_turns(events),
        annotations=annotations,
        intents=request.app.ctx.intents,
    )


async def _change(
    request: Request, action: str, change: Any, detail: Any = ""
) -> HTTPResponse:
    """Apply ``change(connection, conversation_id)`` and its audit entry together."""
    sender_id = (request.form.get("id") or "")[:255]
    staff = current_staff(request).username

    def work(connection: Connection) -> bool:
        row = repo.get_conversation(connection, sender_id)
        if row is None:
            return False
        result = change(connection, row.id)
        repo.add_audit(connection, staff, action, sender_id, result or detail)
        return True

    if not await request.app.ctx.db.run(work):
        return render(request, "error.html", status=404, message="not_found")
    return redirect("/conversation?" + urlencode({"id": sender_id}))


@staff_required
async def save_tags(request: Request) -> HTTPResponse:
    """Replace the conversation's tags (ASCII or full-width commas)."""
    tags = (request.form.get("tags") or "").replace("，", ",").split(",")

    def change(connection: Connection, conversation_id: int) -> Dict[str, Any]:
        return {"tags": repo.set_tags(connection, conversation_id, tags)}

    return await _change(request, "set_tags", change)


@staff_required
async def save_note(request: Request) -> HTTPResponse:
    """Add a note to the conversation."""
    body = (request.form.get("note") or "").strip()
    staff = current_staff(request).username
    if not body:
        return render(request, "error.html", status=400, message="bad_request")

    def change(connection: Connection, conversation_id: int) -> Dict[str, Any]:
        repo.add_note(connection, conversation_id, staff, body)
        return {"note_chars": len(body)}

    return await _change(request, "add_note", change)


@staff_required
async def flag(request: Request) -> HTTPResponse:
    """Flag a user turn with the intent it should have had, for the inbox."""
    sender_id = (request.form.get("id") or "")[:255]
    correct = (request.form.get("intent") or "").strip()
    intents = request.app.ctx.intents
    try:
        event_id = int(request.form.get("event_id") or "")
    except ValueError:
        return render(request, "error.html", status=400, message="bad_request")
    if not correct or (intents and correct not in intents):
        return render(request, "error.html", status=400, message="bad_request")
    events = await _events(request, sender_id)
    event = next(
        (e for e in events if e.id == event_id and e.type_name == "user"), None
    )
    if event is None:
        return render(request, "error.html", status=404, message="not_found")
    text = str(event.data.get("text") or "")
    predicted = ((event.data.get("parse_data") or {}).get("intent") or {}).get("name")
    staff = current_staff(request).username

    def change(connection: Connection, conversation_id: int) -> Dict[str, Any]:
        repo.flag_turn(
            connection, conversation_id, event_id, text, predicted, correct, staff
        )
        return {"event_id": event_id, "predicted": predicted, "correct": correct}

    return await _change(request, "flag_turn", change)


@staff_required
async def review(request: Request) -> HTTPResponse:
    """Mark the conversation new or reviewed."""
    status = request.form.get("status") or "reviewed"
    if status not in ("new", "reviewed"):
        return render(request, "error.html", status=400, message="bad_request")

    def change(connection: Connection, conversation_id: int) -> Dict[str, Any]:
        repo.set_review_status(connection, conversation_id, status)
        return {"status": status}

    return await _change(request, "set_review", change)


def _download(body: str, name: str) -> HTTPResponse:
    return raw(
        body.encode("utf-8"),
        content_type="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@staff_required
async def export_stories(request: Request) -> HTTPResponse:
    """Download the chosen conversations as a Rasa stories file; audited."""
    wanted = [s[:255] for s in (request.form.getlist("id") or []) if s][:MAX_EXPORT]
    if not wanted:
        return render(request, "error.html", status=400, message="bad_request")
    staff = current_staff(request).username
    known = await request.app.ctx.db.run(lambda c: repo.conversation_ids(c, wanted))
    senders = [s for s in wanted if s in known]
    loaded = [(s, await _events(request, s)) for s in senders]
    body = stories_yaml(loaded)

    def audit(connection: Connection) -> None:
        for sender_id in senders:
            repo.add_audit(connection, staff, "export_stories", sender_id)

    await request.app.ctx.db.run(audit)
    return _download(body, f"reviewed_stories_{int(time.time())}.yml")


@staff_required
async def export_nlu(request: Request) -> HTTPResponse:
    """Download the relabelled turns as a Rasa NLU file; audited."""
    staff = current_staff(request).username

    def work(connection: Connection) -> str:
        rows = repo.corrected_turns(connection)
        repo.add_audit(connection, staff, "export_nlu", None, {"examples": len(rows)})
        return nlu_yaml((row.text, row.correct_intent) for row in rows)

    body = await request.app.ctx.db.run(work)
    return _download(body, f"corrected_nlu_{int(time.time())}.yml")
