"""Tenants' declarative HTTP tools in the database (`DeclarativeToolStore` on a session)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from activities.declarative.model import DeclarativeHttpTool
from activities.declarative.store import StoredTool, UnknownDeclarativeTool, VersionExists
from activities.versions import Version
from api.db.models import DeclarativeToolRecord


class SessionToolStore:
    """The SQL implementation, bound to the request's session (one connection on SQLite).

    Versions are immutable: saving identical content again is a no-op, different
    content under an existing `name@version` raises `VersionExists`.
    """

    def __init__(self, session: AsyncSession, actor: str = "system") -> None:
        self._session = session
        self._actor = actor

    async def save(self, tenant_id: str, tool: DeclarativeHttpTool) -> StoredTool:
        tenant = uuid.UUID(tenant_id)
        existing = await self._session.get(DeclarativeToolRecord, (tenant, tool.name, tool.version))
        digest = tool.content_hash()
        if existing is not None:
            if existing.content_hash != digest:
                raise VersionExists(
                    f"{tool.activity_name} already exists with different content; "
                    "publish the change as a new version"
                )
            return _stored(existing)
        record = DeclarativeToolRecord(
            tenant_id=tenant,
            name=tool.name,
            version=tool.version,
            definition=tool.model_dump(mode="json", by_alias=True),
            content_hash=digest,
            deprecated=tool.deprecated,
            created_by=self._actor,
        )
        self._session.add(record)
        await self._session.commit()
        return _stored(record)

    async def get(self, tenant_id: str, name: str, version: str) -> StoredTool | None:
        record = await self._session.get(
            DeclarativeToolRecord, (uuid.UUID(tenant_id), name, version)
        )
        return _stored(record) if record is not None else None

    async def list(self, tenant_id: str, name: str | None = None) -> list[StoredTool]:
        query = sa.select(DeclarativeToolRecord).where(
            DeclarativeToolRecord.tenant_id == uuid.UUID(tenant_id)
        )
        if name is not None:
            query = query.where(DeclarativeToolRecord.name == name)
        rows = list(await self._session.scalars(query))
        rows.sort(key=lambda r: (r.name, Version.parse(r.version)))
        return [_stored(r) for r in rows]

    async def deprecate(self, tenant_id: str, name: str, version: str, message: str) -> StoredTool:
        record = await self._session.get(
            DeclarativeToolRecord, (uuid.UUID(tenant_id), name, version)
        )
        if record is None:
            raise UnknownDeclarativeTool(f"no tool {name}@{version}")
        record.deprecated = message
        record.definition = {**record.definition, "deprecated": message}
        await self._session.commit()
        return _stored(record)


def _stored(record: DeclarativeToolRecord) -> StoredTool:
    return StoredTool(
        tenant_id=str(record.tenant_id),
        tool=DeclarativeHttpTool.model_validate(record.definition),
        content_hash=record.content_hash,
    )
