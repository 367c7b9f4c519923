"""Alembic environment: runs on the connection handed over by ``backend.migrate``.

Migrations are run programmatically (``python -m backend migrate`` and on
``serve``), never through an ``alembic.ini``, so there is no logging set-up or
URL here: the caller owns both.
"""

from __future__ import annotations

from alembic import context

from backend.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through backend.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
