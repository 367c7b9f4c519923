"""One blueprint per page group."""

from __future__ import annotations

from typing import List

from sanic import Blueprint


def blueprints() -> List[Blueprint]:
    """Every route group, imported late so each module stays importable alone."""
    from console.routes import admin, auth, conversations, dashboard, followups, inbox

    return [
        auth.build(),
        conversations.build(),
        inbox.build(),
        followups.build(),
        dashboard.build(),
        admin.build(),
    ]
