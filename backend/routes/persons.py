"""``/persons``: registering people and recording payments (admin token)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend import records
from backend.records import NewContribution, NewPerson
from backend.schemas import CONTRIBUTION_IN, PERSON_IN, parse_body, parse_id_number
from backend.security import require_admin
from backend.verification import utc_naive


def persons_blueprint() -> Blueprint:
    """Admin routes for loading person records; they need the admin token."""
    bp = Blueprint("persons")

    @bp.post("/persons")
    async def create_person(request: Request) -> HTTPResponse:
        ctx = request.app.ctx
        require_admin(request, ctx.settings.admin_token)
        new = NewPerson.from_json(parse_body(request.body, PERSON_IN))
        now = utc_naive(ctx.settings.clock())
        created = await ctx.db.run(
            lambda session: records.create_person(session, new, now)
        )
        return json(created, status=201)

    @bp.post("/persons/<id_number:str>/contributions")
    async def record_contribution(request: Request, id_number: str) -> HTTPResponse:
        ctx = request.app.ctx
        require_admin(request, ctx.settings.admin_token)
        normalized = parse_id_number(id_number)
        new = NewContribution.from_json(parse_body(request.body, CONTRIBUTION_IN))
        now = utc_naive(ctx.settings.clock())
        recorded = await ctx.db.run(
            lambda session: records.add_contribution(session, normalized, new, now)
        )
        return json(recorded, status=201)

    return bp
