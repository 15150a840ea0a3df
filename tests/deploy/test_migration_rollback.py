"""Rollback-safe migrations: every step goes down and up on PostgreSQL keeping older data,
and upgrades only expand the schema unless a migration declares itself a contract step.

docs/rollback.md explains the rule: a release's migration adds (tables, nullable
columns, indexes) so the previous release's pods keep working during the rolling
upgrade and after `helm rollback`; dropping or tightening happens in a later release,
in a migration that says `CONTRACT_OF = "<expand revision>"`.
"""

from __future__ import annotations

import ast
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from api.db.engine import make_engine
from api.db.migrate import MIGRATIONS, alembic_config, downgrade, upgrade
from api.db.models import all_metadata
from tests.api.conftest import PG_ENV, fresh_pg_database

VERSIONS = MIGRATIONS / "versions"
# Operations that break the previous release's code when they run before it is gone.
CONTRACT_OPERATIONS = {"drop_table", "drop_column", "rename_table", "drop_constraint"}


def revisions() -> list[str]:
    """Revision ids from base to head."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def contract_operations(source: str) -> list[str]:
    """Contract operations in a migration's upgrade(), unless it declares CONTRACT_OF."""
    tree = ast.parse(source)
    declared = any(
        isinstance(node, ast.AnnAssign | ast.Assign)
        and "CONTRACT_OF"
        in ast.unparse(node.targets[0] if isinstance(node, ast.Assign) else node.target)
        for node in tree.body
    )
    if declared:
        return []
    [upgrade_fn] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"]
    found = []
    for node in ast.walk(upgrade_fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            keywords = {k.arg: k.value for k in node.keywords}
            tightens = name == "alter_column" and (
                "new_column_name" in keywords
                or ast.unparse(keywords.get("nullable", ast.Constant(True))) == "False"
            )
            if name in CONTRACT_OPERATIONS or tightens:
                found.append(f"{name} (line {node.lineno})")
    return found


def test_upgrades_only_expand_the_schema() -> None:
    files = sorted(VERSIONS.glob("[0-9]*.py"))
    assert len(files) == len(revisions())
    problems = {f.name: contract_operations(f.read_text()) for f in files}
    assert {name: ops for name, ops in problems.items() if ops} == {}


def test_the_expand_check_can_fail() -> None:
    contracting = (
        "def upgrade() -> None:\n"
        "    op.drop_column('trees', 'description')\n"
        "    with op.batch_alter_table('runs') as batch_op:\n"
        "        batch_op.alter_column('tenant_id', nullable=False)\n"
    )
    assert contract_operations(contracting) == ["drop_column (line 2)", "alter_column (line 4)"]
    declared = 'CONTRACT_OF = "0003"\n' + contracting
    assert contract_operations(declared) == []


@pytest.fixture
async def postgres() -> AsyncIterator[str]:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL runs when {PG_ENV} is set (./dev test sets it)")
    async with fresh_pg_database() as url:
        yield url


_TENANT = sa.text("SELECT count(*) FROM tenants WHERE id = :id")


def _version(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _diff(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, all_metadata))


async def test_every_step_goes_down_and_up_on_postgresql_keeping_older_data(
    postgres: str,
) -> None:
    engine = make_engine(postgres)
    steps = revisions()
    try:
        for revision in steps:  # up, one step at a time
            await upgrade(engine, revision)
            async with engine.connect() as conn:
                assert await conn.run_sync(_version) == revision
        tenant = uuid.uuid4()
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO tenants (id, slug, name, settings, created_at, updated_at) "
                    "VALUES (:id, 'rollback', 'Rollback Inc', '{}', now(), now())"
                ),
                {"id": tenant},
            )
        for previous in reversed(steps[:-1]):  # down, one step at a time
            await downgrade(engine, previous)
            async with engine.connect() as conn:
                assert await conn.run_sync(_version) == previous
                assert await conn.scalar(_TENANT, {"id": tenant}) == 1, previous
        await upgrade(engine, "head")  # up again: the data older steps hold survived
        async with engine.connect() as conn:
            assert await conn.scalar(_TENANT, {"id": tenant}) == 1
            assert await conn.run_sync(_diff) == []
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_version) is None
        await upgrade(engine, "head")
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


def test_the_migrations_folder_is_the_packaged_one() -> None:
    assert Path(str(MIGRATIONS)).joinpath("env.py").is_file()
