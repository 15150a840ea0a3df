"""Runs a schedule started: recorded on first read so the run routes treat them like any.

Temporal starts scheduled runs, not the API, so no `runs` row exists for them until
someone reads one. :func:`adopt_scheduled_run` checks that the workflow belongs to the
tenant (its id, its `TenantId` and its `TemporalScheduledById` all name the tenant) and
writes the row from what the run's start recorded (memo and search attributes).
"""

from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.db.models import RunRecord, TreeRecord, utcnow
from temporal_client.run_start import workflow_id
from temporal_client.schedules import (
    SCHEDULE_MEMO_KEY,
    SCHEDULED_BY,
    is_scheduled_run_key,
    schedule_name,
)
from workflows import search_attributes as sa_keys


async def adopt_scheduled_run(
    session: AsyncSession, client: Client, tenant_id: uuid.UUID, key: str
) -> RunRecord | None:
    """The `runs` row of the scheduled run `key`, written now; None if it is not one."""
    if not is_scheduled_run_key(key):
        return None
    tenant = str(tenant_id)
    wf_id = workflow_id(tenant, key)
    try:
        description = await client.get_workflow_handle(wf_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    attrs = description.typed_search_attributes
    schedule = schedule_name(tenant, attrs.get(SCHEDULED_BY))
    if schedule is None or attrs.get(sa_keys.TENANT_ID) != tenant:
        return None
    memo = await description.memo()
    if memo.get(SCHEDULE_MEMO_KEY) != schedule:
        return None
    tree_name = str(memo.get("tree", ""))
    tree_id = await session.scalar(
        sa.select(TreeRecord.id)
        .where(TreeRecord.tenant_id == tenant_id, TreeRecord.name == tree_name)
        .order_by(TreeRecord.created_at.desc())
        .limit(1)
    )
    if tree_id is None:
        return None
    record = RunRecord(
        tenant_id=tenant_id,
        key=key,
        workflow_id=wf_id,
        first_run_id=description.run_id,
        tree_id=tree_id,
        tree_name=tree_name,
        tree_version=int(memo.get("tree_version_number", 0)),
        tree_hash=str(memo.get("tree_hash", "")),
        request_hash=hashlib.sha256(wf_id.encode()).hexdigest(),
        created_by=f"schedule:{schedule}"[:80],
        created_at=description.start_time or utcnow(),
        schedule_id=schedule,
    )
    session.add(record)
    try:
        await session.commit()
    except IntegrityError:  # another reader adopted it first
        await session.rollback()
        found: RunRecord | None = await session.scalar(
            sa.select(RunRecord).where(RunRecord.tenant_id == tenant_id, RunRecord.key == key)
        )
        return found
    return record
