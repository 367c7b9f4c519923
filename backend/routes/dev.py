"""``/dev``: development-mode helpers, never registered in production."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from backend.schemas import parse_id_number
from common.identity import mask_phone


def dev_blueprint() -> Blueprint:
    """Development-only routes; the app registers them only in development mode."""
    bp = Blueprint("dev")

    @bp.get("/dev/outbox")
    async def outbox(request: Request) -> HTTPResponse:
        args = request.get_args(keep_blank_values=True)
        id_number = parse_id_number(args.get("id_number"))
        # Codes are delivered in the background: include those under way.
        await request.app.ctx.verification.wait_for_deliveries(timeout=30)
        messages = request.app.ctx.outbox.messages_for(id_number)
        return json(
            {
                "messages": [
                    {
                        "masked_phone": mask_phone(message.phone),
                        "code": message.code,
                        "sent_at": message.sent_at.isoformat(),
                        "expires_at": message.expires_at.isoformat(),
                    }
                    for message in messages
                ]
            }
        )

    return bp
