"""Schedules that follow publishes: point `published` schedules at the new version.

`POST /trees/{name}/publish` calls :func:`follow_publish` after the publish is stored.
Each `published` schedule of the tree whose action runs another version gets its action
replaced through Temporal's schedule update (runs already started keep their version).
The update is a replacement, so applying it twice is harmless: a schedule whose update
failed (Temporal unreachable, an error) keeps its old version and records why in
`sync_error`, and publishing again retries exactly the schedules that lag. A published
version that refuses a schedule (its inputs or tools fail the run-start checks) pauses
that schedule with the reason as its note instead of letting it start failing runs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from api.db.models import ScheduleRecord, TreeRecord, utcnow
from api.problems import ProblemError
from api.run_lookups import Plan
from api.schedule_models import SCHEDULE_RPC_TIMEOUT
from api.schedules import ScheduleService
from api.tenancy import TenantSettings
from foundation.flags.client import FlagClient
from temporal_client.schedules import action_request

log = logging.getLogger("treeflow.api.schedules")


async def follow_publish(
    schedules: ScheduleService,
    session: AsyncSession,
    client_factory: Callable[[], Awaitable[Client]],
    tenant_id: uuid.UUID,
    tree: TreeRecord,
    *,
    settings: TenantSettings,
    flags: FlagClient | None,
    actor: str,
) -> dict[str, list[str]]:
    """Point every `published` schedule of `tree` that runs another version at the
    published one. Returns the names updated, paused (the version refuses their
    inputs or tools) and failed (kept on their version, `sync_error` says why;
    publishing again retries them)."""
    version = tree.published_version
    outcome: dict[str, list[str]] = {"updated": [], "paused": [], "failed": []}
    if version is None:
        return outcome
    rows = list(
        await session.scalars(
            sa.select(ScheduleRecord).where(
                ScheduleRecord.tenant_id == tenant_id,
                ScheduleRecord.tree_name == tree.name,
                ScheduleRecord.version_policy == "published",
                ScheduleRecord.tree_version != version,
            )
        )
    )
    if not rows:
        return outcome
    plan = await schedules.plans.resolve(session, tenant_id, tree.name, version)
    client: Client | None = None
    failure: Exception | None = None
    try:
        client = await client_factory()
    except Exception as exc:  # Temporal unreachable: every schedule keeps its version
        failure = exc
    for record in rows:
        result = "failed"
        if client is not None:
            try:
                result = await _follow_one(
                    schedules,
                    session,
                    client,
                    record,
                    plan,
                    settings=settings,
                    flags=flags,
                    actor=actor,
                )
            except Exception as exc:  # this schedule's update failed: keep its version
                failure = exc
        if result == "failed":
            log.warning("schedule %s did not follow version %s: %s", record.name, version, failure)
            reason = f"{type(failure).__name__}: {failure}"
            record.sync_error = f"version {version} not applied: {reason}"[:500]
        outcome[result].append(record.name)
        record.updated_at = utcnow()
    await session.commit()
    return outcome


async def _follow_one(
    schedules: ScheduleService,
    session: AsyncSession,
    client: Client,
    record: ScheduleRecord,
    plan: Plan,
    *,
    settings: TenantSettings,
    flags: FlagClient | None,
    actor: str,
) -> str:
    handle = schedules.handle(client, record)
    description = await schedules.describe(client, record)
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    inputs = (await action_request(client, action)).inputs
    try:
        await schedules.check_start(
            session, client, record.tenant_id, record.name, plan, inputs, settings, flags, actor
        )
    except ProblemError as refused:
        reasons = "; ".join(f"{e.field}: {e.message}" for e in refused.errors or [])
        note = f"paused: version {plan.number} refuses this schedule ({reasons})"[:200]
        await handle.pause(note=note, rpc_timeout=SCHEDULE_RPC_TIMEOUT)
        record.sync_error = note
        return "paused"
    new_action = schedules.action(record.tenant_id, record.name, plan, inputs)

    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = current.description.schedule
        schedule.action = new_action
        return ScheduleUpdate(schedule=schedule)

    await handle.update(updater, rpc_timeout=SCHEDULE_RPC_TIMEOUT)
    record.tree_version = plan.number
    record.tree_id = plan.tree_id
    record.sync_error = None
    return "updated"
