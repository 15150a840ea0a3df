"""Browser tests of the Studio: the built console, served by a real API over HTTP (uvicorn),
starting runs on the session's Temporal dev server and worker, driven by Playwright in
Debian's headless Chromium (``/usr/bin/chromium`` through ``executable_path``; Playwright's
own browser download is never used).

* ``stack``: the API on loopback with a tenant and API keys per role.
* ``page``: a fresh browser context whose every request to another host fails the test.
* ``axe_violations(page)``: serious/critical axe-core findings (axe from studio/node_modules).
* ``screenshot(page, name)``: the journey's last screen under ``tests/studio/artifacts/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, Route, async_playwright

from api.db.models import Role
from tests.api.conftest import (
    client_for,
    create_actor,
    create_tenant,
    live_server,
    running,
    settings_for,
)
from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS
from treeflow.devserver import free_port

REPO = Path(__file__).resolve().parents[2]
BUILD_INDEX = REPO / "api" / "static" / "studio" / "index.html"
AXE = REPO / "studio" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).parent / "artifacts"
BLOCKING_IMPACTS = ("serious", "critical")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("tests.support.temporal_fixtures")


@dataclass
class Stack:
    """The served Studio and who can sign in to it."""

    base_url: str
    tenant_id: uuid.UUID
    keys: dict[str, str]
    app: FastAPI
    # Other hosts the browser may reach (a login provider's pages).
    allowed_hosts: tuple[str, ...] = ()

    def url(self, path: str = "") -> str:
        return f"{self.base_url}/studio{path}"


def _ensure_build() -> None:
    if BUILD_INDEX.is_file():
        return
    if shutil.which("npm") is None:
        pytest.skip("the Studio is not built and npm is missing: run scripts/build-studio.sh")
    result = subprocess.run(
        [str(REPO / "scripts" / "build-studio.sh")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@asynccontextmanager
async def serve_stack(
    db: Path, temporal_settings: Any, worker: str, **overrides: Any
) -> AsyncIterator[Stack]:
    """The API (dev mode: plain HTTP on loopback) serving the built Studio, on SQLite, with
    a tenant and a key per role; ``overrides`` change its settings (``public_url`` is the
    served address)."""
    _ensure_build()
    port = free_port()
    settings = settings_for(
        f"sqlite+aiosqlite:///{db}",
        dev_mode=True,
        public_url=f"http://127.0.0.1:{port}",
        temporal=temporal_settings.model_copy(update={"task_queue": worker}),
        **overrides,
    )
    from api.app import create_app

    app = create_app(settings)
    async with running(app), live_server(app, port) as base:
        services = app.state.services
        tenant = await create_tenant(services, "studio")
        admin = await create_actor(app, "studio-admin", {tenant: Role.ADMIN})
        keys: dict[str, str] = {}
        async with client_for(app, admin.token) as client:
            for role in ("admin", "user", "read-only"):
                response = await client.post(
                    f"/v1/tenants/{tenant}/api-keys", json={"name": f"studio-{role}", "role": role}
                )
                assert response.status_code == 201, response.text
                keys[role] = response.json()["key"]
        await admin.client.aclose()
        yield Stack(base, tenant, keys, app)


@pytest.fixture(scope="session")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, temporal_settings: Any, worker: str
) -> AsyncIterator[Stack]:
    """The served Studio of most journeys (see ``serve_stack``)."""
    db = tmp_path_factory.mktemp("studio") / "studio.db"
    async with serve_stack(db, temporal_settings, worker) as served:
        yield served


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set TREEFLOW_CHROMIUM)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield launched
        await launched.close()


@dataclass
class Guard:
    """Requests the page made to hosts other than the stack's."""

    outside: list[str] = field(default_factory=list)


@pytest.fixture
async def page(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """A fresh context (no stored token); any request off the stack's host fails the test."""
    allowed = {urlsplit(stack.base_url).netloc, *stack.allowed_hosts}
    guard = Guard()
    context = await browser.new_context(viewport={"width": 1440, "height": 900})

    async def route(request_route: Route) -> None:
        url = request_route.request.url
        if urlsplit(url).netloc not in allowed and not url.startswith(("data:", "blob:")):
            guard.outside.append(url)
            await request_route.abort()
            return
        await request_route.continue_()

    await context.route("**/*", route)
    opened = await context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    await context.close()
    assert not guard.outside, f"requests left the stack: {guard.outside}"


async def sign_in(page: Page, stack: Stack, role: str = "admin") -> None:
    await page.goto(stack.url("/"))
    await page.get_by_label("API key").fill(stack.keys[role])
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Trees").wait_for()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays on.
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found: list[dict[str, Any]] = await page.evaluate(
        """async (impacts) => {
            const result = await window.axe.run(document, {resultTypes: ['violations']});
            return result.violations.filter(v => impacts.includes(v.impact)).map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
            }));
        }""",
        list(BLOCKING_IMPACTS),
    )
    return found


async def assert_accessible(page: Page) -> None:
    violations = await axe_violations(page)
    assert not violations, json.dumps(violations, indent=2)


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


async def accessible_screenshot(page: Page, name: str) -> Path:
    """The page passes the axe check, then is recorded as `name` (the usual end of a journey)."""
    await assert_accessible(page)
    return await screenshot(page, name)
