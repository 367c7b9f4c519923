"""``/me``: what a verified resident may read about themselves.

The person always comes from the token, never from the request, so one
person's token cannot read another person's data.
"""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend import records
from backend.schemas import parse_year
from backend.security import require_bearer
from backend.settings import LOCAL_TZ


def me_blueprint() -> Blueprint:
    """Routes for the verified person, authorised by the bearer token from
    verification."""
    bp = Blueprint("me")

    @bp.get("/me/contributions")
    async def my_contributions(request: Request) -> HTTPResponse:
        ctx = request.app.ctx
        token = require_bearer(request)
        person_id = await ctx.verification.person_for_token(token)
        today = ctx.settings.clock().astimezone(LOCAL_TZ).date()
        args = request.get_args(keep_blank_values=True)
        year = parse_year(args.getlist("year"), default=today.year)
        summary = await ctx.db.run(
            lambda session: records.contribution_summary(
                session, person_id, year, today
            )
        )
        return json(summary)

    return bp
