"""``/openapi.json``: the API description (see ``backend.openapi``)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend.openapi import build_openapi


def docs_blueprint() -> Blueprint:
    """Serves the OpenAPI description, so clients can read the contract from the
    service."""
    bp = Blueprint("docs")

    @bp.get("/openapi.json")
    async def openapi(request: Request) -> HTTPResponse:
        return json(build_openapi(development=request.app.ctx.settings.development))

    return bp
