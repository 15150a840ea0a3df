"""Run the packaged Alembic migrations programmatically (at startup, in tests, from the CLI)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# Arbitrary constant: the PostgreSQL advisory lock replicas take while migrating.
_PG_MIGRATION_LOCK = 7_310_551_203


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged scripts, bound to ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: sa.Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: sa.Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database to ``revision``; concurrent replicas serialise on PostgreSQL."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Downgrade the database to ``revision``."""
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, revision)
