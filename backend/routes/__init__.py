"""HTTP routes: one Blueprint per resource, grouped under ``/api/v1``.

Blueprints are built per app (Sanic binds a Blueprint to the app it is
registered on), hence the factory functions instead of module-level objects.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.blueprint_group import BlueprintGroup

from backend.openapi import API_PREFIX
from backend.routes.dev import dev_blueprint
from backend.routes.docs import docs_blueprint
from backend.routes.me import me_blueprint
from backend.routes.persons import persons_blueprint
from backend.routes.verification import verification_blueprint


def api_v1(development: bool) -> BlueprintGroup:
    """The versioned API; the dev outbox only in development mode."""
    blueprints = [
        persons_blueprint(),
        verification_blueprint(),
        me_blueprint(),
        docs_blueprint(),
    ]
    if development:
        blueprints.append(dev_blueprint())
    return Blueprint.group(*blueprints, url_prefix=API_PREFIX)
