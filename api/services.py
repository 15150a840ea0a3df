"""The per-application service container, built once by :func:`api.app.create_app`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from activities.registry import ToolRegistry
from activities.tool_modules import build_registry
from api.auth.abuse import AuthFailureLimiter
from api.auth.apikeys import ApiKeyService
from api.auth.authenticator import Authenticator
from api.auth.oidc import LoginFlows
from api.auth.refresh import RefreshTokenService
from api.auth.revocation import SessionRevocations
from api.auth.tokens import TokenService, generate_signing_key, load_signing_keys
from api.db.engine import make_engine, make_session_factory
from api.paging import PageTokens
from api.ratelimit import DatabaseRateLimiter, MemoryRateLimiter, RateLimiter
from api.reruns import RerunService
from api.run_records import RunRecords
from api.runs import RunService
from api.schedules import ScheduleService
from api.settings import Settings
from api.telemetry import ApiMetrics
from api.temporal import TemporalGateway
from api.tenancy import TenantSettingsCache
from foundation.flags.client import FlagClient
from foundation.secrets import SecretStore
from foundation.secrets.payload_codec import TenantPayloadCodec, payload_encryption_enabled
from foundation.secrets.settings import build_keyring, build_secret_store

log = logging.getLogger("treeflow.api")


@dataclass
class Services:
    """Everything request handlers need, reachable as ``request.app.state.services``."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    tokens: TokenService
    refresh: RefreshTokenService
    revocations: SessionRevocations
    api_keys: ApiKeyService
    authenticator: Authenticator
    rate_limiter: RateLimiter
    tenant_settings: TenantSettingsCache
    secrets: SecretStore
    login: LoginFlows
    registry: ToolRegistry
    temporal: TemporalGateway
    runs: RunService
    reruns: RerunService
    schedules: ScheduleService
    metrics: ApiMetrics
    flags: FlagClient
    page_tokens: PageTokens
    tracer_provider: TracerProvider | None = None
    payload_codec: TenantPayloadCodec | None = None
    """The payload codec under the platform key ring (the codec endpoint uses it)."""


def build_page_tokens(settings: Settings) -> PageTokens:
    """The page-token signer: the configured key, else one derived from the JWT key."""
    if settings.page_token_key is not None:
        return PageTokens(settings.page_token_key.get_secret_value().encode())
    if settings.jwt_signing_keys:
        return PageTokens(settings.jwt_signing_keys[0].get_secret_value().encode())
    return PageTokens.ephemeral()


def build_services(
    settings: Settings, *, tracer_provider: TracerProvider | None = None
) -> Services:
    """Create engines, key material and caches; connects to nothing yet."""
    engine = make_engine(settings.database_url, settings.database_pool_size)
    sessions = make_session_factory(engine)
    if settings.jwt_signing_keys:
        keys = load_signing_keys([k.get_secret_value() for k in settings.jwt_signing_keys])
    else:
        log.warning("dev mode: using an ephemeral JWT signing key (tokens die with the process)")
        keys = [generate_signing_key()]
    tokens = TokenService(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    api_keys = ApiKeyService(sessions, settings.api_key_cache_seconds)
    codec = TenantPayloadCodec(build_keyring(settings))
    encrypt_payloads = payload_encryption_enabled(
        settings.payload_encryption, dev_mode=settings.dev_mode
    )
    limiter: RateLimiter = (
        DatabaseRateLimiter(engine)
        if settings.rate_limit_backend == "database"
        else MemoryRateLimiter()
    )
    revocations = SessionRevocations(
        sessions,
        poll_seconds=settings.session_revocation_poll_seconds,
        # An access token of a revoked session lives at most its lifetime plus leeway.
        keep_seconds=settings.access_token_ttl_seconds + 60,
    )
    failures = AuthFailureLimiter(
        limiter,
        per_ip=settings.auth_failures_per_ip_per_minute,
        per_key=settings.auth_failures_per_key_per_minute,
    )
    runs = RunService(settings.temporal, settings.open_run_cache_seconds, RunRecords(engine))
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        tokens=tokens,
        refresh=RefreshTokenService(
            settings.refresh_token_ttl_seconds,
            settings.refresh_family_max_age_seconds,
            revocations,
        ),
        revocations=revocations,
        api_keys=api_keys,
        authenticator=Authenticator(tokens, api_keys, failures, revocations),
        rate_limiter=limiter,
        tenant_settings=TenantSettingsCache(sessions),
        secrets=build_secret_store(settings, engine),
        login=LoginFlows(
            settings.oidc_providers, settings.public_url, settings.login_state_ttl_seconds
        ),
        registry=build_registry(),
        temporal=TemporalGateway(
            settings.temporal,
            tracer=tracer_provider.get_tracer("treeflow") if tracer_provider else None,
            codec=codec if encrypt_payloads else None,
        ),
        runs=runs,
        reruns=RerunService(runs),
        schedules=ScheduleService(settings.temporal, runs),
        metrics=ApiMetrics(),
        flags=FlagClient(settings.flags),
        page_tokens=build_page_tokens(settings),
        tracer_provider=tracer_provider,
        payload_codec=codec,
    )
