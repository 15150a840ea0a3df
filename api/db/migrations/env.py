"""Alembic environment: always runs on a connection handed in by :mod:`api.db.migrate`."""

from __future__ import annotations

from alembic import context

from api.db.models import all_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through api.db.migrate (it supplies the connection)")

context.configure(
    connection=connection,
    target_metadata=all_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
