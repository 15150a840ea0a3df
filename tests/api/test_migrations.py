"""Migrations: packaged, runnable programmatically, reversible, and in sync with the models."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from api.db.engine import make_engine
from api.db.migrate import downgrade, upgrade
from api.db.models import all_metadata


def _diff(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, all_metadata))


def _tables(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def test_models_match_the_migrations(db_url: str, app: object) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == [], "models changed without a migration: " + repr(diff[:5])
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(tmp_path: object) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/m.db")
    try:
        await upgrade(engine)
        await upgrade(engine)  # idempotent
        async with engine.connect() as conn:
            assert {"tenants", "tenant_secrets", "audit_events"} <= await conn.run_sync(_tables)
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
        await upgrade(engine)
        async with engine.connect() as conn:
            assert "api_keys" in await conn.run_sync(_tables)
    finally:
        await engine.dispose()
