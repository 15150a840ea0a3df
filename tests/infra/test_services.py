"""Smoke test of the real backing services started by ``scripts/services.sh``.

Run::

    scripts/services.sh up
    eval "$(scripts/services.sh env)"
    python -m pytest tests/infra

These tests never skip: in CI the services always run, so a missing variable or an
unreachable service is a failure that says how to start them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from UnleashClient.clients.unleash_client import UnleashClient

HOW_TO_START = (
    "start the backing services and load their settings: "
    'scripts/services.sh up && eval "$(scripts/services.sh env)"'
)
TIMEOUT = httpx.Timeout(10.0)


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.fail(f"environment variable {name} is not set; {HOW_TO_START}", pytrace=False)
    return value


def unreachable(what: str, where: str, error: BaseException) -> None:
    pytest.fail(
        f"{what} at {where} is not reachable ({type(error).__name__}: {error}); {HOW_TO_START}",
        pytrace=False,
    )


# ------------------------------------------------------------------ PostgreSQL ---


async def test_postgres_accepts_queries() -> None:
    url = require_env("TREEFLOW_TEST_DATABASE_URL")
    assert url.startswith("postgresql+asyncpg://"), url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        unreachable("PostgreSQL", urlsplit(dsn).netloc.rpartition("@")[2], error)
    try:
        row = await conn.fetchrow(
            "SELECT current_user AS usr, current_database() AS db, "
            "current_setting('server_version_num')::int AS version"
        )
        assert row is not None
        assert (row["usr"], row["db"]) == ("treeflow", "treeflow")
        assert 150000 <= row["version"] < 160000
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE smoke (id int PRIMARY KEY, note text)")
            await conn.execute("INSERT INTO smoke VALUES ($1, $2)", 1, "hello")
            assert await conn.fetchval("SELECT note FROM smoke WHERE id = 1") == "hello"
    finally:
        await conn.close()


# --------------------------------------------------------------------- Unleash ---


@pytest.fixture
def unleash_admin() -> Iterator[httpx.Client]:
    api = require_env("TREEFLOW_TEST_UNLEASH_URL").rstrip("/")
    assert api.endswith("/api"), f"TREEFLOW_TEST_UNLEASH_URL must end in /api: {api}"
    token = require_env("TREEFLOW_TEST_UNLEASH_ADMIN_TOKEN")
    with httpx.Client(
        base_url=f"{api}/admin", headers={"Authorization": token}, timeout=TIMEOUT
    ) as client:
        try:
            client.get("/projects").raise_for_status()
        except httpx.TransportError as error:
            unreachable("Unleash", api, error)
        yield client


@pytest.fixture
def flag(unleash_admin: httpx.Client) -> Iterator[str]:
    """A new flag in project `default`, enabled in `development`; deleted afterwards."""
    name = f"treeflow.infra-smoke.{uuid.uuid4().hex[:12]}"
    features = "/projects/default/features"
    response = unleash_admin.post(features, json={"name": name, "type": "release"})
    assert response.status_code == 201, response.text
    try:
        # With no strategy, Unleash 8 adds a 100% flexibleRollout when switching on.
        response = unleash_admin.post(f"{features}/{name}/environments/development/on")
        assert response.status_code == 200, response.text
        yield name
    finally:
        # Archive, then delete for good (an archived name cannot be created again).
        unleash_admin.delete(f"{features}/{name}")
        unleash_admin.delete(f"/archive/{name}")


def wait_for(predicate: Callable[[], bool], what: str, seconds: float = 15.0) -> float:
    """Poll until predicate() is true; return the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > seconds:
            pytest.fail(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - start


def test_unleash_client_api_sees_flag(flag: str) -> None:
    api = require_env("TREEFLOW_TEST_UNLEASH_URL").rstrip("/")
    token = require_env("TREEFLOW_TEST_UNLEASH_CLIENT_TOKEN")
    seen: dict[str, dict[str, object]] = {}

    def flag_listed() -> bool:
        response = httpx.get(
            f"{api}/client/features", headers={"Authorization": token}, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["query"]["environment"] == "development"
        seen.clear()
        seen.update({f["name"]: f for f in body["features"]})
        return flag in seen

    # Unleash serves client features from a cache that follows admin changes on a
    # 1 s revision poll: a new flag shows up there about a second later, not at once.
    wait_for(flag_listed, f"{flag} in /api/client/features")
    assert seen[flag]["enabled"] is True


def test_unleash_python_sdk_sees_flag_and_its_change(
    flag: str, unleash_admin: httpx.Client, tmp_path: Path
) -> None:
    api = require_env("TREEFLOW_TEST_UNLEASH_URL").rstrip("/")
    token = require_env("TREEFLOW_TEST_UNLEASH_CLIENT_TOKEN")
    client = UnleashClient(
        url=api,
        app_name=f"treeflow-infra-smoke-{uuid.uuid4().hex[:8]}",
        custom_headers={"Authorization": token},
        refresh_interval=1,  # default 15 s would make this test slow
        disable_metrics=True,
        disable_registration=True,
        cache_directory=str(tmp_path),
        request_retries=0,
    )
    try:
        client.initialize_client()  # first fetch is synchronous, later ones every 1 s
        # Server-side propagation (~1 s, see above) plus one client refresh.
        wait_for(lambda: client.is_enabled(flag), "UnleashClient to see the flag on")
        response = unleash_admin.post(
            f"/projects/default/features/{flag}/environments/development/off"
        )
        assert response.status_code == 200, response.text
        wait_for(lambda: not client.is_enabled(flag), "UnleashClient to see the flag off")
    finally:
        client.destroy()


# ------------------------------------------------------------------------ OIDC ---


@pytest.fixture
def oidc() -> Iterator[tuple[httpx.Client, dict[str, object]]]:
    issuer = require_env("TREEFLOW_TEST_OIDC_ISSUER").rstrip("/")
    with httpx.Client(timeout=TIMEOUT) as client:
        try:
            response = client.get(f"{issuer}/.well-known/openid-configuration")
        except httpx.TransportError as error:
            unreachable("the OIDC provider", issuer, error)
        assert response.status_code == 200, response.text
        yield client, response.json()


def test_oidc_discovery_and_jwks(oidc: tuple[httpx.Client, dict[str, object]]) -> None:
    client, discovery = oidc
    issuer = require_env("TREEFLOW_TEST_OIDC_ISSUER").rstrip("/")
    assert discovery["issuer"] == issuer
    assert "S256" in discovery["code_challenge_methods_supported"]  # type: ignore[operator]
    jwks = client.get(str(discovery["jwks_uri"]))
    assert jwks.status_code == 200, jwks.text
    keys = jwks.json()["keys"]
    assert keys, "JWKS is empty"
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["kid"] for k in keys)
    assert all("d" not in k for k in keys), "JWKS leaks private key material"


def _jwt_claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_oidc_code_flow_with_pkce_and_custom_claims(
    oidc: tuple[httpx.Client, dict[str, object]],
) -> None:
    """The mechanism login tests use: `mock_claims` on the authorize request."""
    client, discovery = oidc
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    redirect_uri = "http://127.0.0.1:9/callback"  # never contacted: we read the redirect
    wanted = {"sub": "alice-42", "email": "alice@example.com", "name": "Alice"}
    authorize = client.get(
        str(discovery["authorization_endpoint"]),
        params={
            "response_type": "code",
            "client_id": "treeflow-test",
            "redirect_uri": redirect_uri,
            "scope": "openid email profile",
            "state": "st-1",
            "nonce": "n-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "mock_claims": json.dumps(wanted),
        },
    )
    assert authorize.status_code == 302, authorize.text
    query = parse_qs(urlsplit(authorize.headers["location"]).query)
    assert query["state"] == ["st-1"]
    token = client.post(
        str(discovery["token_endpoint"]),
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": "treeflow-test",
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    tokens = token.json()
    id_claims = _jwt_claims(tokens["id_token"])
    assert {k: id_claims[k] for k in wanted} == wanted
    assert id_claims["aud"] == "treeflow-test"
    assert id_claims["nonce"] == "n-1"
    assert id_claims["iss"] == discovery["issuer"]
    assert "preferred_username" not in id_claims, "mock_claims must replace the default user"
    userinfo = client.get(
        str(discovery["userinfo_endpoint"]),
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert userinfo.status_code == 200, userinfo.text
    assert {k: userinfo.json()[k] for k in wanted} == wanted


# ------------------------------------------------------------------ Prometheus ---


@pytest.mark.parametrize(
    ("var", "banner"),
    [("TREEFLOW_TEST_PROMTOOL_BIN", "promtool"), ("TREEFLOW_TEST_PROMETHEUS_BIN", "prometheus")],
)
def test_prometheus_binaries_run(var: str, banner: str) -> None:
    binary = require_env(var)
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{var}={binary} is not an executable file; {HOW_TO_START}", pytrace=False)
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"{banner}, version" in done.stdout + done.stderr
