"""All API configuration in one pydantic-settings class (environment prefix ``TREEFLOW_``)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from foundation.flags.settings import FlagSettings
from foundation.settings import PlatformSettings
from foundation.telemetry.settings import TelemetrySettings
from temporal_client.connection import TemporalSettings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HTTP_HEADER_TIMEOUT_SECONDS = 10.0
HTTP_BODY_TIMEOUT_SECONDS = 30.0
HTTP_KEEP_ALIVE_SECONDS = 5
HTTP_MAX_HEADER_BYTES = 32 * 1024
EVENT_STREAMS_PER_TENANT = 100
EVENT_STREAM_KEEPALIVE_SECONDS = 15.0
EVENT_STREAM_MAX_SECONDS = 3600.0


class OIDCProvider(BaseModel):
    """One login provider. ``kind`` picks the protocol details; endpoints may be overridden."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    kind: Literal["oidc", "google", "github"] = "oidc"
    client_id: str
    client_secret: SecretStr | None = None
    issuer: str | None = Field(
        default=None, description="Issuer URL; required for kind=oidc (discovery is used)."
    )
    scopes: list[str] = Field(default_factory=list)
    # GitHub (and GitHub Enterprise) endpoints; defaults are github.com's.
    authorize_url: str | None = None
    token_url: str | None = None
    api_base_url: str | None = None

    @model_validator(mode="after")
    def _issuer_for_oidc(self) -> OIDCProvider:
        if self.kind == "oidc" and not self.issuer:
            raise ValueError(f"provider {self.name!r}: kind=oidc needs an issuer")
        return self


class Settings(PlatformSettings):
    """Treeflow API settings. Every field reads ``TREEFLOW_<FIELD>`` from the environment.

    Dev mode and the secret backend are the fields shared with the workers
    (:class:`foundation.settings.PlatformSettings`).
    """

    model_config = SettingsConfigDict(env_prefix="TREEFLOW_", extra="ignore")

    public_url: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite+aiosqlite:///.treeflow/treeflow.db"
    database_pool_size: int = 10
    migrate_on_startup: bool = True

    # Access tokens (JWT)
    jwt_issuer: str = "treeflow"
    jwt_audience: str = "treeflow-api"
    access_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    jwt_signing_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Private JWKs (JSON, each with a kid). The first is the active key; "
        "the others stay in the JWKS so tokens they signed still verify.",
    )
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=60)
    refresh_family_max_age_seconds: int = Field(default=30 * 24 * 3600, ge=60)

    # API keys
    api_key_cache_seconds: float = Field(default=10.0, ge=0)
    api_key_rotation_grace_seconds: int = Field(default=24 * 3600, ge=0)

    # OAuth2 / OIDC login
    oidc_providers: list[OIDCProvider] = Field(default_factory=list)
    login_state_ttl_seconds: int = 600

    # Protection
    cors_allow_origins: list[str] = Field(default_factory=list)
    trusted_proxies: list[IPNetwork] = Field(default_factory=list)
    hsts_max_age_seconds: int = 63072000
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_backend: Literal["memory", "database"] = "memory"
    rate_limit_ip_per_minute: int = Field(default=1200, ge=1)
    rate_limit_principal_per_minute: int = Field(default=600, ge=1)
    # Slow clients (api/serving.py; docs/api.md "Timeouts"): bounds where uvicorn runs.
    http_header_timeout_seconds: float = Field(
        default=HTTP_HEADER_TIMEOUT_SECONDS,
        gt=0,
        le=300,
        description="A request's line and headers must arrive within this (else 408, closed).",
    )
    http_body_timeout_seconds: float = Field(
        default=HTTP_BODY_TIMEOUT_SECONDS,
        gt=0,
        le=3600,
        description="A request body must arrive within this once the route reads it (408).",
    )
    http_keep_alive_seconds: int = Field(
        default=HTTP_KEEP_ALIVE_SECONDS,
        ge=1,
        le=300,
        description="An idle kept-alive connection closes after this.",
    )
    http_max_header_bytes: int = Field(
        default=HTTP_MAX_HEADER_BYTES,
        ge=4096,
        le=1024 * 1024,
        description="Largest request line plus headers (else 431, closed).",
    )

    page_token_key: SecretStr | None = Field(
        default=None,
        description="Key (16+ bytes) signing page tokens; every replica needs the same one. "
        "Unset: derived from the first JWT signing key (ephemeral in dev mode without one).",
    )
    auth_failures_per_ip_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed authentications from one client address per minute before 429.",
    )
    auth_failures_per_key_per_minute: int = Field(
        default=10,
        ge=1,
        description="Failed authentications against one API-key prefix per minute before 429.",
    )
    session_revocation_poll_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How soon other replicas refuse the access tokens of a logged-out session.",
    )

    # Tools
    declarative_http_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts (patterns like *.example.com) tenants' declarative HTTP tools may "
        "call; empty means tenants cannot register HTTP tools.",
    )

    # Runs
    temporal: TemporalSettings = Field(
        default_factory=TemporalSettings,
        description="How to reach Temporal (TREEFLOW_TEMPORAL_* variables).",
    )
    event_streams_per_tenant: int = Field(
        default=EVENT_STREAMS_PER_TENANT,
        ge=1,
        description="Open run event streams per tenant on one API process (429 beyond; "
        "the count is per process).",
    )
    event_stream_keepalive_seconds: float = Field(
        default=EVENT_STREAM_KEEPALIVE_SECONDS,
        gt=0,
        le=300,
        description="Keep-alive comment after this much silence.",
    )
    event_stream_max_seconds: float = Field(
        default=EVENT_STREAM_MAX_SECONDS,
        gt=0,
        description="A run event stream ends after this; clients reconnect with the last id.",
    )
    open_run_cache_seconds: float = Field(
        default=0.5,
        ge=0,
        description="How stale a read of an open run may be (closed runs are cached for good).",
    )

    # Observability and flags (docs/observability.md); each reads its own variables:
    # TREEFLOW_LOG_* and TREEFLOW_ENVIRONMENT, TREEFLOW_FLAGS_*.
    metrics_enabled: bool = Field(default=True, description="Serve /metrics.")
    metrics_token: SecretStr | None = Field(
        default=None, description="When set, /metrics requires 'Authorization: Bearer <token>'."
    )
    access_log: Literal["all", "errors", "off"] = Field(
        default="errors",
        description="Access log lines: every request, only 4xx/5xx and slow (> 1 s) ones "
        "(the default; metrics count the rest), or none.",
    )
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    flags: FlagSettings = Field(default_factory=FlagSettings)

    @field_validator("access_log", mode="before")
    @classmethod
    def _access_log_bool(cls, value: object) -> object:
        """Accept the older boolean form: true = all, false = off."""
        if isinstance(value, bool):
            return "all" if value else "off"
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return "all" if value.lower() in ("true", "1") else "off"
        return value

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if not self.dev_mode:
            if not self.jwt_signing_keys:
                raise ValueError("TREEFLOW_JWT_SIGNING_KEYS is required outside dev mode")
            if self.secrets_backend == "database" and not self.secret_keys:
                raise ValueError("TREEFLOW_SECRET_KEYS is required outside dev mode")
            if self.payload_encryption is not False and not self.secret_keys:
                raise ValueError(
                    "TREEFLOW_SECRET_KEYS is required for payload encryption outside dev mode"
                )
        if self.secret_keys and self.secret_active_key_id not in self.secret_keys:
            raise ValueError("TREEFLOW_SECRET_ACTIVE_KEY_ID must name one of TREEFLOW_SECRET_KEYS")
        return self
