"""Operator tasks the CLI calls: bootstrap the first platform operator, rotate secret keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from api.auth.apikeys import ApiKeyService
from api.db.engine import make_engine, make_session_factory
from api.db.migrate import upgrade
from api.db.models import Role, Tenant, User, utcnow
from api.settings import Settings
from foundation.secrets import DatabaseSecretStore
from foundation.secrets.settings import build_keyring


class OperatorExistsError(Exception):
    """A platform operator already exists; bootstrap runs once."""


@dataclass(frozen=True)
class BootstrapResult:
    """The new operator and its API key. ``api_key`` is shown once: print it, never log it."""

    user_id: uuid.UUID
    api_key_id: uuid.UUID
    api_key: str

    def __repr__(self) -> str:
        return f"BootstrapResult(user_id={self.user_id}, api_key_id={self.api_key_id}, api_key=***)"


async def bootstrap_operator(
    settings: Settings, *, email: str, display_name: str = "Platform operator"
) -> BootstrapResult:
    """Create the first platform operator and a platform API key for it.

    The operator logs in later through any provider that reports ``email`` as verified
    (the identity links by email); until then the API key acts for it.
    """
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_session_factory(engine)() as session:
            existing = await session.scalar(sa.select(User.id).where(User.is_operator).limit(1))
            if existing is not None:
                raise OperatorExistsError(str(existing))
            user = User(
                id=uuid.uuid4(),
                email=email.lower(),
                display_name=display_name,
                is_operator=True,
                created_at=utcnow(),
            )
            session.add(user)
            key, raw = await ApiKeyService.create(
                session,
                name="bootstrap operator key",
                created_by="bootstrap",
                tenant_id=None,
                role=None,
                platform_operator=True,
            )
            await session.commit()
            return BootstrapResult(user.id, key.id, raw)
    finally:
        await engine.dispose()


async def rotate_secret_keys(settings: Settings) -> int:
    """Re-encrypt every tenant secret under the active key; returns how many changed.

    Procedure: add the new key to ``TREEFLOW_SECRET_KEYS``, make it
    ``TREEFLOW_SECRET_ACTIVE_KEY_ID``, roll the API and workers, run this, then drop the
    old key from the configuration.
    """
    engine = make_engine(settings.database_url)
    try:
        return await DatabaseSecretStore(engine, build_keyring(settings)).rotate()
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class DevAccess:
    """The embedded stack's demo tenant and an admin API key for it (dev mode only)."""

    tenant_id: uuid.UUID
    api_key: str | None


DEV_TENANT_SLUG = "demo"


async def ensure_dev_tenant(settings: Settings, *, with_key: bool) -> DevAccess:
    """The `demo` tenant (created on first use) and, if asked, a new admin API key."""
    if not settings.dev_mode:
        raise ValueError("the demo tenant exists in dev mode only")
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_session_factory(engine)() as session:
            tenant_id = await session.scalar(
                sa.select(Tenant.id).where(Tenant.slug == DEV_TENANT_SLUG)
            )
            if tenant_id is None:
                tenant = Tenant(
                    id=uuid.uuid4(),
                    slug=DEV_TENANT_SLUG,
                    name="Demo tenant (embedded stack)",
                    settings={},
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                session.add(tenant)
                await session.flush()  # the key below references it
                tenant_id = tenant.id
            raw = None
            if with_key:
                _, raw = await ApiKeyService.create(
                    session,
                    name="embedded stack key",
                    created_by="treeflow up",
                    tenant_id=tenant_id,
                    role=Role.ADMIN,
                    platform_operator=False,
                )
            await session.commit()
            return DevAccess(tenant_id, raw)
    finally:
        await engine.dispose()
