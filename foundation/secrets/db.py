"""Database-backed secret store: AES-GCM ciphertexts in the platform database.

The table lives here (not in ``api``) because activities read it from the worker,
which must not import the API. It registers on the platform database's one
``MetaData`` (:mod:`foundation.database`); the API's migrations create it from there.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from foundation.database import platform_metadata
from foundation.secrets.keyring import Keyring
from foundation.secrets.store import (
    SecretMeta,
    SecretNotFoundError,
    SecretPolicy,
    SecretRef,
    validate_secret_name,
)

tenant_secrets = sa.Table(
    "tenant_secrets",
    platform_metadata,
    sa.Column("tenant_id", sa.Uuid(), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("allowed_tools", sa.JSON(), nullable=True),
)


def _context(tenant_id: uuid.UUID, name: str, version: int) -> bytes:
    return f"treeflow-secret:{tenant_id}:{name}:{version}".encode()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _meta_columns() -> tuple[sa.Column[Any], ...]:
    """The columns a `SecretMeta` is read from (never the ciphertext)."""
    t = tenant_secrets
    return (t.c.name, t.c.version, t.c.key_id, t.c.created_at, t.c.updated_at, t.c.allowed_tools)


def _meta(row: Any) -> SecretMeta:
    return SecretMeta(
        name=row.name,
        version=row.version,
        key_id=row.key_id,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        allowed_tools=_policy(row.allowed_tools).allowed_tools,
    )


def _policy(stored: Any) -> SecretPolicy:
    return SecretPolicy(None if stored is None else tuple(str(tool) for tool in stored))


class DatabaseSecretStore:
    """:class:`~foundation.secrets.store.SecretStore` over SQLAlchemy with AES-GCM."""

    def __init__(self, engine: AsyncEngine, keyring: Keyring) -> None:
        self._engine = engine
        self._keyring = keyring

    def __repr__(self) -> str:
        return f"DatabaseSecretStore(keyring={self._keyring!r})"

    async def put(self, tenant_id: uuid.UUID, name: str, value: str) -> SecretMeta:
        validate_secret_name(name)
        now = datetime.now(UTC)
        t = tenant_secrets
        async with self._engine.begin() as conn:
            current = (
                await conn.execute(
                    sa.select(t.c.version, t.c.created_at, t.c.allowed_tools)
                    .where(t.c.tenant_id == tenant_id, t.c.name == name)
                    .with_for_update()
                )
            ).first()
            version = 1 if current is None else current.version + 1
            # The policy column is left alone: replacing a value keeps who may use it.
            key_id, blob = self._keyring.encrypt(value.encode(), _context(tenant_id, name, version))
            values = {"version": version, "key_id": key_id, "ciphertext": blob, "updated_at": now}
            if current is None:
                await conn.execute(
                    t.insert().values(tenant_id=tenant_id, name=name, created_at=now, **values)
                )
                created = now
            else:
                await conn.execute(
                    t.update().where(t.c.tenant_id == tenant_id, t.c.name == name).values(**values)
                )
                created = _aware(current.created_at)
        policy = _policy(None if current is None else current.allowed_tools)
        return SecretMeta(name, version, key_id, created, now, policy.allowed_tools)

    async def get(self, ref: SecretRef) -> str:
        value, _ = await self.get_with_policy(ref)
        return value

    async def get_with_policy(self, ref: SecretRef) -> tuple[str, SecretPolicy]:
        t = tenant_secrets
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(t.c.version, t.c.key_id, t.c.ciphertext, t.c.allowed_tools).where(
                        t.c.tenant_id == ref.tenant_id, t.c.name == ref.name
                    )
                )
            ).first()
        if row is None:
            raise SecretNotFoundError(str(ref))
        plain = self._keyring.decrypt(
            row.key_id, row.ciphertext, _context(ref.tenant_id, ref.name, row.version)
        )
        return plain.decode(), _policy(row.allowed_tools)

    async def set_policy(self, tenant_id: uuid.UUID, name: str, policy: SecretPolicy) -> SecretMeta:
        t = tenant_secrets
        stored = None if policy.allowed_tools is None else list(policy.allowed_tools)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                t.update()
                .where(t.c.tenant_id == tenant_id, t.c.name == name)
                .values(allowed_tools=stored, updated_at=datetime.now(UTC))
            )
            if not result.rowcount:
                raise SecretNotFoundError(f"secret://{tenant_id}/{name}")
            row = (
                await conn.execute(
                    sa.select(*_meta_columns()).where(t.c.tenant_id == tenant_id, t.c.name == name)
                )
            ).one()
        return _meta(row)

    async def list(self, tenant_id: uuid.UUID) -> list[SecretMeta]:
        t = tenant_secrets
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(*_meta_columns()).where(t.c.tenant_id == tenant_id).order_by(t.c.name)
                )
            ).all()
        return [_meta(r) for r in rows]

    async def delete(self, tenant_id: uuid.UUID, name: str) -> bool:
        t = tenant_secrets
        async with self._engine.begin() as conn:
            result = await conn.execute(
                t.delete().where(t.c.tenant_id == tenant_id, t.c.name == name)
            )
        return bool(result.rowcount)

    async def rotate(self, batch_size: int = 500) -> int:
        """Re-encrypt every row not sealed by the active key; returns how many changed.

        Safe to run while the API serves traffic: each batch is its own transaction,
        and rows are matched on their old key id so a concurrent write is not undone.
        """
        t = tenant_secrets
        active = self._keyring.active
        changed = 0
        while True:
            async with self._engine.begin() as conn:
                rows = (
                    await conn.execute(
                        sa.select(t.c.tenant_id, t.c.name, t.c.version, t.c.key_id, t.c.ciphertext)
                        .where(t.c.key_id != active)
                        .limit(batch_size)
                    )
                ).all()
                if not rows:
                    return changed
                for row in rows:
                    context = _context(row.tenant_id, row.name, row.version)
                    plain = self._keyring.decrypt(row.key_id, row.ciphertext, context)
                    key_id, blob = self._keyring.encrypt(plain, context)
                    result = await conn.execute(
                        t.update()
                        .where(
                            t.c.tenant_id == row.tenant_id,
                            t.c.name == row.name,
                            t.c.key_id == row.key_id,
                            t.c.version == row.version,
                        )
                        .values(key_id=key_id, ciphertext=blob)
                    )
                    changed += result.rowcount
