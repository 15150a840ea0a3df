"""SQLAlchemy 2 ORM models for the platform state the API owns.

Types are portable between SQLite (embedded default) and PostgreSQL (production, CI).
Every table registers on the platform database's one ``MetaData``
(:mod:`foundation.database`), including ``tenant_secrets``, which is defined in
:mod:`foundation.secrets.db` because workers read it (see :data:`all_metadata`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator

from foundation.database import platform_metadata

# Imported for its side effect: `tenant_secrets` registers on the same MetaData.
from foundation.secrets import db as _secret_tables  # noqa: F401


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A new random identifier."""
    return uuid.uuid4()


def id_column() -> MappedColumn[Any]:
    """A UUID primary key, drawn in Python when a row is made."""
    return mapped_column(primary_key=True, default=new_id)


def cascade_fk(
    target: str, *, primary_key: bool = False, index: bool | None = None
) -> MappedColumn[Any]:
    """A foreign key to ``target`` whose rows go with their parent (ON DELETE CASCADE);
    indexed unless it is part of the primary key (then only where ``index`` says)."""
    return mapped_column(
        sa.ForeignKey(target, ondelete="CASCADE"),
        primary_key=primary_key,
        index=True if index is None and not primary_key else index,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both backends (SQLite drops the offset; restore it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class Role(enum.StrEnum):
    """Roles a membership (or a tenant API key) carries inside one tenant."""

    ADMIN = "admin"
    USER = "user"
    READ_ONLY = "read-only"


class Base(DeclarativeBase):
    """Declarative base for the API's tables."""

    metadata = platform_metadata
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = id_column()
    email: Mapped[str | None] = mapped_column(sa.String(320), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(200), default="")
    is_operator: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """A login identity at one provider, linked to a user."""

    __tablename__ = "identities"
    __table_args__ = (sa.UniqueConstraint("provider", "subject"),)

    id: Mapped[uuid.UUID] = id_column()
    user_id: Mapped[uuid.UUID] = cascade_fk("users.id")
    provider: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = id_column()
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantDomain(Base):
    """Email-domain rule: verified emails of this domain join the tenant on first login."""

    __tablename__ = "tenant_domains"

    domain: Mapped[str] = mapped_column(sa.String(253), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = cascade_fk("tenants.id")
    role: Mapped[str] = mapped_column(sa.String(16))


class Membership(Base):
    __tablename__ = "memberships"

    tenant_id: Mapped[uuid.UUID] = cascade_fk("tenants.id", primary_key=True)
    user_id: Mapped[uuid.UUID] = cascade_fk("users.id", primary_key=True, index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """An invitation, matched on first login by verified email or provider subject."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = id_column()
    tenant_id: Mapped[uuid.UUID] = cascade_fk("tenants.id")
    email: Mapped[str | None] = mapped_column(sa.String(320), index=True)
    provider: Mapped[str | None] = mapped_column(sa.String(32))
    subject: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]


class RefreshToken(Base):
    """One refresh token of a rotation family; only its SHA-256 digest is stored."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = id_column()
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = cascade_fk("users.id")
    token_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    family_expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class RevokedSession(Base):
    """A login session (refresh family) whose access tokens stop working before they expire.

    Replicas poll rows newer than their last look (``api.auth.revocation``); a row is
    only needed until the last access token of the session has expired.
    """

    __tablename__ = "revoked_sessions"

    session_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[datetime]


class ApiKey(Base):
    """A machine credential. Tenant keys carry a role; platform keys act as an operator."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = id_column()
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    secret_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    name: Mapped[str] = mapped_column(sa.String(100))
    tenant_id: Mapped[uuid.UUID | None] = cascade_fk("tenants.id")
    role: Mapped[str | None] = mapped_column(sa.String(16))
    platform_operator: Mapped[bool] = mapped_column(default=False)
    scopes: Mapped[list[str] | None] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    replaced_by: Mapped[uuid.UUID | None]


class AuditEvent(Base):
    """One state-changing call: who, what, when, tenant, request id and outcome."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_tenant_time", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(100))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(500))
    target: Mapped[str | None] = mapped_column(sa.String(200))
    request_id: Mapped[str] = mapped_column(sa.String(128), index=True)
    status_code: Mapped[int]
    outcome: Mapped[str] = mapped_column(sa.String(16))
    client_ip: Mapped[str | None] = mapped_column(sa.String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LoginState(Base):
    """Pending OAuth2 authorization (state, PKCE verifier, nonce); single use."""

    __tablename__ = "login_states"

    state: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(32))
    code_verifier: Mapped[str] = mapped_column(sa.String(128))
    nonce: Mapped[str | None] = mapped_column(sa.String(128))
    # The callback URL sent to the provider (null: the API's own callback).
    redirect_uri: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimitCounter(Base):
    """Fixed-window request counters shared by API replicas (database rate-limit backend)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    window: Mapped[int] = mapped_column(sa.BigInteger(), primary_key=True)
    count: Mapped[int]


class TreeRecord(Base):
    """A tenant's tree: a name with immutable versions; deleting is soft and audited."""

    __tablename__ = "trees"
    __table_args__ = (
        sa.Index(
            "ux_trees_live_name",
            "tenant_id",
            "name",
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = id_column()
    tenant_id: Mapped[uuid.UUID] = cascade_fk("tenants.id")
    name: Mapped[str] = mapped_column(sa.String(100))
    latest_version: Mapped[int] = mapped_column(default=0)
    published_version: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(sa.String(80))


class TreeVersionRecord(Base):
    """One immutable version of a tree: the source as written and its compiled plan."""

    __tablename__ = "tree_versions"

    tree_id: Mapped[uuid.UUID] = cascade_fk("trees.id", primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.Text())
    compiled: Mapped[dict[str, Any]]
    hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRecord(Base):
    """A run started through the API: the idempotency key, the tree version it runs,
    and, once it closed, its final state (closed runs never change, so reads of them
    need no Temporal call)."""

    __tablename__ = "runs"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "key"),)

    id: Mapped[uuid.UUID] = id_column()
    tenant_id: Mapped[uuid.UUID] = cascade_fk("tenants.id")
    key: Mapped[str] = mapped_column(sa.String(200))
    workflow_id: Mapped[str] = mapped_column(sa.String(255))
    first_run_id: Mapped[str] = mapped_column(sa.String(64))
    tree_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("trees.id"), index=True)
    tree_name: Mapped[str] = mapped_column(sa.String(100))
    tree_version: Mapped[int]
    tree_hash: Mapped[str] = mapped_column(sa.String(64))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    final_status: Mapped[str | None] = mapped_column(sa.String(32))
    final_state: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    closed_at: Mapped[datetime | None]
    schedule_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    """The tenant's schedule that started this run (None for runs started by a caller)."""


class ScheduleRecord(Base):
    """A tenant's schedule of a tree: which Temporal schedule it is and which version
    of the tree its action runs. Spec, policies, state and inputs live in Temporal; the
    spec is kept here as written too (Temporal turns cron text into calendars)."""

    __tablename__ = "schedules"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = id_column()
    tenant_id: Mapped[uuid.UUID] = cascade_fk("tenants.id")
    name: Mapped[str] = mapped_column(sa.String(64))
    tree_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("trees.id"), index=True)
    tree_name: Mapped[str] = mapped_column(sa.String(100))
    version_policy: Mapped[str] = mapped_column(sa.String(16))
    tree_version: Mapped[int]
    """The version the Temporal schedule's action runs now."""
    spec: Mapped[dict[str, Any]]
    sync_error: Mapped[str | None] = mapped_column(sa.String(500))
    """Why the last publish could not be applied to the action (None once it was)."""
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeclarativeToolRecord(Base):
    """One immutable version of a tenant's declarative HTTP tool."""

    __tablename__ = "declarative_tools"

    tenant_id: Mapped[uuid.UUID] = cascade_fk("tenants.id", primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    definition: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    deprecated: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


all_metadata: sa.MetaData = Base.metadata
"""Every table of the platform database, the API's and ``tenant_secrets``, for Alembic."""
