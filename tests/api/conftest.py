"""Fixtures for API tests.

* ``backend`` / ``db_url``: every test that touches the database runs on SQLite, and
  on PostgreSQL too when ``TREEFLOW_TEST_DATABASE_URL`` is set (a fresh database per run).
* ``make_settings(**overrides)``: production-shaped settings (HTTPS enforced, real keys).
* ``app`` / ``services``: one migrated app per backend for the session.
* ``world``: tenants A and B and one authenticated actor per role (``world.admin.client``
  ...), plus ``world.operator`` and ``world.outsider`` (admin of B only).
* ``client_for(token)``: an httpx AsyncClient on any app, ``https://testserver``.
* ``live_server(app)``: serve an app over real HTTP with uvicorn (same event loop).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

# authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx, which this
# project pins; the fallback is supported until authlib 2.
warnings.filterwarnings("ignore", message="The httpx module is deprecated")

from api.app import create_app  # noqa: E402
from api.auth.tokens import generate_signing_key  # noqa: E402
from api.db.models import Membership, Role, Tenant, User, utcnow  # noqa: E402
from api.services import Services  # noqa: E402
from api.settings import Settings  # noqa: E402
from foundation.secrets import Keyring  # noqa: E402
from temporal_client.connection import TemporalSettings  # noqa: E402
from tests.support.processes import wait_for_http  # noqa: E402
from treeflow.devserver import free_port  # noqa: E402

PG_ENV = "TREEFLOW_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"]

# Test-only key material, generated once per test session.
_JWT_KEY = json.dumps(generate_signing_key("test-key-1").as_dict(private=True))
_SECRET_KEY = Keyring.generate_key()


def pytest_configure(config: pytest.Config) -> None:
    """Runs start through the API: share the session's Temporal dev server and worker."""
    config.pluginmanager.import_plugin("tests.support.temporal_fixtures")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    if request.param == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL runs when {PG_ENV} is set")
    return str(request.param)


@pytest.fixture(scope="session")
async def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A fresh, empty database for this session and backend."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "treeflow.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with fresh_pg_database() as url:
        yield url


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create a uniquely named database next to ``TREEFLOW_TEST_DATABASE_URL``; drop it after."""
    base = sa.make_url(os.environ[PG_ENV])
    name = f"tf_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.DBAPIError:
        # No CREATEDB privilege: use the configured database as it is.
        await admin.dispose()
        yield base.render_as_string(hide_password=False)
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def settings_for(db_url: str, **overrides: Any) -> Settings:
    """Production-shaped settings: HTTPS enforced, configured keys, generous limits."""
    values: dict[str, Any] = {
        "dev_mode": False,
        "database_url": db_url,
        "public_url": "https://treeflow.test",
        "jwt_signing_keys": [_JWT_KEY],
        "secret_keys": {"k1": _SECRET_KEY},
        "secret_active_key_id": "k1",
        "rate_limit_ip_per_minute": 1_000_000,
        "rate_limit_principal_per_minute": 1_000_000,
        "auth_failures_per_ip_per_minute": 1_000_000,
        "auth_failures_per_key_per_minute": 1_000_000,
        "database_pool_size": 5,
        # The world's actors are session-scoped: their tokens must outlive a slow,
        # loaded run of the whole suite (the default 300 s did not, under load).
        "access_token_ttl_seconds": 3600,
        # The session's worker has no payload codec; codec tests turn it on with theirs.
        "payload_encryption": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def make_settings(
    db_url: str, temporal_settings: TemporalSettings, worker: str
) -> Callable[..., Settings]:
    """Settings on this backend's database and the session's Temporal, with overrides."""
    temporal = temporal_settings.model_copy(update={"task_queue": worker})
    return lambda **overrides: settings_for(db_url, **{"temporal": temporal, **overrides})


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run an app's lifespan (migrations on startup, engine disposal on shutdown)."""
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def start_app() -> AsyncIterator[Callable[[Settings], Awaitable[FastAPI]]]:
    """Create and start extra apps for one test; all are stopped when it ends."""
    async with AsyncExitStack() as stack:

        async def _start(settings: Settings) -> FastAPI:
            application = create_app(settings)
            await stack.enter_async_context(running(application))
            return application

        yield _start


@pytest.fixture(scope="session")
async def app(
    db_url: str, temporal_settings: TemporalSettings, worker: str
) -> AsyncIterator[FastAPI]:
    """The session's app on this backend, migrated and running, starting runs on the
    session's Temporal dev server (the session worker executes them)."""
    application = create_app(
        settings_for(
            db_url,
            temporal=temporal_settings.model_copy(update={"task_queue": worker}),
            declarative_http_allowed_hosts=["127.0.0.1"],
        )
    )
    async with running(application):
        yield application


@pytest.fixture(scope="session")
def services(app: FastAPI) -> Services:
    """The app's service container (tokens, sessions, stores...)."""
    result: Services = app.state.services
    return result


def client_for(app: FastAPI, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTPS client on ``app`` through ASGI, optionally with a bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
        base_url=kwargs.pop("base_url", "https://testserver"),
        headers=headers,
        **kwargs,
    )


@dataclass
class Actor:
    """A test caller: a user with roles, its access token and a ready client."""

    name: str
    user_id: uuid.UUID
    token: str
    client: httpx.AsyncClient
    roles: dict[uuid.UUID, Role] = field(default_factory=dict)
    operator: bool = False


@dataclass
class World:
    """Two tenants and one actor per role (in tenant A unless said otherwise)."""

    tenant_a: uuid.UUID
    tenant_b: uuid.UUID
    actors: dict[str, Actor]
    anonymous: httpx.AsyncClient

    @property
    def admin(self) -> Actor:
        return self.actors["admin"]

    @property
    def user(self) -> Actor:
        return self.actors["user"]

    @property
    def read_only(self) -> Actor:
        return self.actors["read-only"]

    @property
    def operator(self) -> Actor:
        return self.actors["operator"]

    @property
    def outsider(self) -> Actor:
        """Admin of tenant B, member of nothing else."""
        return self.actors["outsider"]


async def create_tenant(
    services: Services, slug_prefix: str = "t", settings: dict[str, Any] | None = None
) -> uuid.UUID:
    """Insert a tenant directly."""
    tenant = Tenant(
        id=uuid.uuid4(),
        slug=f"{slug_prefix}-{uuid.uuid4().hex[:10]}",
        name=f"Tenant {slug_prefix}",
        settings=settings or {},
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    async with services.sessions() as session:
        session.add(tenant)
        await session.commit()
    return tenant.id


async def create_api_key(world: World, *, role: str = "user", **body: Any) -> dict[str, Any]:
    """An API key of tenant A created by its admin (the 201 answer, raw key included)."""
    payload = {"name": "key", "role": role, **body}
    response = await world.admin.client.post(f"/v1/tenants/{world.tenant_a}/api-keys", json=payload)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def create_actor(
    app: FastAPI,
    name: str,
    roles: dict[uuid.UUID, Role],
    *,
    operator: bool = False,
) -> Actor:
    """Insert a user with memberships and mint its access token."""
    services: Services = app.state.services
    user = User(
        id=uuid.uuid4(),
        email=f"{name}-{uuid.uuid4().hex[:6]}@example.test",
        display_name=name,
        is_operator=operator,
        created_at=utcnow(),
    )
    async with services.sessions() as session:
        session.add(user)
        await session.flush()
        for tenant_id, role in roles.items():
            session.add(Membership(tenant_id=tenant_id, user_id=user.id, role=role.value))
        await session.commit()
    token = services.tokens.issue(user.id, roles, operator=operator)
    return Actor(name, user.id, token, client_for(app, token), dict(roles), operator)


@pytest.fixture(scope="session")
async def world(app: FastAPI, services: Services) -> AsyncIterator[World]:
    """Tenants A and B; admin/user/read-only of A, a platform operator, B's admin."""
    # Many tests leave runs waiting in this shared tenant: its open-run quota is no test's
    # subject (those make their own tenants), so the default 10 must not fail later ones.
    a = await create_tenant(services, "a", {"quotas": {"max_concurrent_runs": 10_000}})
    b = await create_tenant(services, "b")
    actors = {
        "admin": await create_actor(app, "admin", {a: Role.ADMIN}),
        "user": await create_actor(app, "user", {a: Role.USER}),
        "read-only": await create_actor(app, "read-only", {a: Role.READ_ONLY}),
        "operator": await create_actor(app, "operator", {}, operator=True),
        "outsider": await create_actor(app, "outsider", {b: Role.ADMIN}),
    }
    anonymous = client_for(app)
    yield World(a, b, actors, anonymous)
    for actor in actors.values():
        await actor.client.aclose()
    await anonymous.aclose()


@asynccontextmanager
async def live_server(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on loopback in this event loop; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


OIDC_ENV = "TREEFLOW_TEST_OIDC_ISSUER"
MOCK_PACKAGE = "oauth2-mock-server@8"


def _mock_server_binary() -> Path:
    """The oauth2-mock-server CLI: on PATH, or installed once with npm into a user cache."""
    found = shutil.which("oauth2-mock-server")
    if found:
        return Path(found)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "treeflow-test-oidc"
    binary = cache / "node_modules" / ".bin" / "oauth2-mock-server"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"set {OIDC_ENV} or install Node.js/npm to run the OIDC login tests")
        subprocess.run(
            [npm, "install", "--no-save", "--prefix", str(cache), MOCK_PACKAGE],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return binary


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    """A real OIDC provider on loopback: ``TREEFLOW_TEST_OIDC_ISSUER``, or one started here."""
    configured = os.environ.get(OIDC_ENV)
    if configured:
        yield configured.rstrip("/")
        return
    port = free_port()
    process = subprocess.Popen(
        [str(_mock_server_binary()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    issuer = f"http://127.0.0.1:{port}"

    def failure() -> str:
        stderr = process.stderr.read().decode() if process.stderr else ""
        return f"oauth2-mock-server did not start: {stderr[-500:]}"

    try:
        wait_for_http(f"{issuer}/.well-known/openid-configuration", process, failure)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
