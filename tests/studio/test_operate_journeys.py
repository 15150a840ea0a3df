"""Operate journeys: OIDC sign-in through the real provider process (token refresh, sign-out),
admin views of API keys, schedules and secret names, and a read-only member's view.

The module serves its own stack: the login provider configured, the browser allowed to reach
its pages, and access tokens of 30 s (the least the API allows) so a refresh is observed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, Response, expect

from api.db.models import Role
from tests.api.conftest import (  # noqa: F401 - oidc_issuer: the provider fixture
    client_for,
    create_actor,
    oidc_issuer,
)
from tests.studio.conftest import (
    Stack,
    accessible_screenshot,
    assert_accessible,
    screenshot,
    serve_stack,
    sign_in,
)

pytestmark = pytest.mark.studio

PROVIDER = "mock"
MOCK_SUBJECT = "johndoe"  # the subject oauth2-mock-server reports for every login
ACCESS_TTL = 30


@pytest.fixture(scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory,
    temporal_settings: Any,
    worker: str,
    oidc_issuer: str,  # noqa: F811 - the fixture imported above
) -> AsyncIterator[Stack]:
    """The Studio with the OIDC provider ``mock`` and short-lived access tokens."""
    db = tmp_path_factory.mktemp("operate") / "operate.db"
    async with serve_stack(
        db,
        temporal_settings,
        worker,
        access_token_ttl_seconds=ACCESS_TTL,
        oidc_providers=[
            {
                "name": PROVIDER,
                "kind": "oidc",
                "client_id": "treeflow-studio",
                "issuer": oidc_issuer,
            }
        ],
    ) as served:
        served.allowed_hosts = (urlsplit(oidc_issuer).netloc,)
        yield served


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def admin_call(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with client_for(stack.app, stack.keys["admin"]) as client:
        response = await client.request(method, f"/v1/tenants/{stack.tenant_id}{path}", **kwargs)
    assert response.status_code < 300, response.text
    return response


def is_refresh(response: Response) -> bool:
    return response.url.endswith("/v1/auth/refresh") and response.request.method == "POST"


async def test_sign_in_with_the_oidc_provider_refresh_and_sign_out(
    page: Page, stack: Stack
) -> None:
    await admin_call(
        stack,
        "POST",
        "/invitations",
        json={"provider": PROVIDER, "subject": MOCK_SUBJECT, "role": "admin"},
    )
    await page.goto(stack.url("/"))
    await assert_accessible(page)
    await page.get_by_role("link", name=f"Sign in with {PROVIDER}").click()
    # Provider, then the Studio's callback page, which redeems the code at the API.
    await expect(page.get_by_role("heading", name="Trees")).to_be_visible()
    assert page.url.endswith(f"/studio/t/{stack.tenant_id}/trees"), page.url
    assert "code=" not in page.url
    first = await page.evaluate("sessionStorage.getItem('treeflow.studio.refresh')")
    assert isinstance(first, str)
    assert first.startswith("tfr_")
    await assert_accessible(page)

    # Ahead of expiry (a third of 30 s early) the Studio exchanges the refresh token.
    async with page.expect_response(is_refresh, timeout=(ACCESS_TTL + 10) * 1000) as ahead:
        pass
    assert (await ahead.value).status == 200
    await page.wait_for_function(
        "(first) => sessionStorage.getItem('treeflow.studio.refresh') !== first", arg=first
    )

    # A refused access token (revoked, clock skew) is refreshed once and the call retried.
    await page.evaluate("sessionStorage.setItem('treeflow.studio.token', 'not-a-token')")
    async with page.expect_response(is_refresh) as on_401:
        await page.get_by_role("link", name="Operate").click()
        await page.get_by_role("link", name="Members").click()
    assert (await on_401.value).status == 200
    await expect(page.get_by_role("cell", name="admin", exact=True).first).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_count(0)

    session = await page.evaluate("sessionStorage.getItem('treeflow.studio.refresh')")
    async with page.expect_response(lambda r: r.url.endswith("/v1/auth/logout")) as logout:
        await page.get_by_role("button", name="Sign out").click()
    assert (await logout.value).status == 204
    await expect(page.get_by_role("link", name=f"Sign in with {PROVIDER}")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        revoked = await http.post("/v1/auth/refresh", json={"refresh_token": session})
    assert revoked.status_code == 401, "sign-out revoked the session at the API"
    await screenshot(page, "operate-oidc-sign-out")


async def test_admin_manages_api_keys_schedules_and_sees_secret_names(
    page: Page, stack: Stack
) -> None:
    tree = unique("nightly")
    await admin_call(
        stack,
        "POST",
        "/trees",
        json={"source": f"name: {tree}\nstart: done\nnodes:\n  done: {{kind: end}}\n"},
    )
    await admin_call(stack, "POST", f"/trees/{tree}/publish", json={"version": 1})
    secret_value = "sk-" + uuid.uuid4().hex
    await admin_call(stack, "PUT", "/secrets/search-api-key", json={"value": secret_value})
    await sign_in(page, stack, "admin")
    await page.get_by_role("link", name="Operate").click()

    await page.get_by_role("link", name="API keys").click()
    key_name = unique("ci-runner")
    await page.get_by_label("Key name").fill(key_name)
    await page.get_by_label("Role", exact=True).select_option("read-only")
    await page.get_by_role("button", name="Create key").click()
    shown = page.get_by_role("status")
    await expect(shown).to_contain_text("not shown again")
    secret = await shown.locator("code").inner_text()
    assert secret.startswith("tfk_")
    await assert_accessible(page)
    await shown.get_by_role("button", name="Done").click()
    await expect(page.get_by_text(secret)).to_have_count(0)
    row = page.get_by_role("row").filter(has_text=key_name)
    await expect(row).to_contain_text("read-only")
    await page.get_by_role("button", name=f"Revoke {key_name}").click()
    await expect(row).to_have_count(0)
    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        refused = await http.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401, "the revoked key no longer works"

    await page.get_by_role("link", name="Schedules").click()
    schedule = unique("morning")
    await page.get_by_label("Schedule name").fill(schedule)
    await page.get_by_label("Tree").select_option(tree)
    await page.get_by_label("Cron").fill("0 6 * * *")
    await page.get_by_role("button", name="Create schedule").click()
    row = page.get_by_role("row").filter(has_text=schedule)
    await expect(row).to_contain_text("active")
    await page.get_by_role("button", name=f"Pause {schedule}").click()
    await expect(row).to_contain_text("paused")
    await expect(page.get_by_role("button", name=f"Resume {schedule}")).to_be_visible()
    await assert_accessible(page)
    paused = await admin_call(stack, "GET", f"/schedules/{schedule}")
    assert paused.json()["paused"] is True

    # A bad interval: the API's problem names the field.
    await page.get_by_label("Schedule name").fill(unique("bad"))
    await page.get_by_label("Tree").select_option(tree)
    await page.get_by_label("Every", exact=True).select_option("interval")
    await page.get_by_label("Seconds").fill("0")
    await page.get_by_role("button", name="Create schedule").click()
    await expect(page.get_by_role("alert")).to_contain_text("interval_seconds")

    await page.get_by_role("link", name="Secrets").click()
    await expect(page.get_by_role("cell", name="search-api-key", exact=True)).to_be_visible()
    assert secret_value not in await page.content(), "secret values never reach the page"
    await accessible_screenshot(page, "operate-admin")


async def test_a_read_only_member_sees_no_admin_controls(page: Page, stack: Stack) -> None:
    await admin_call(
        stack,
        "POST",
        "/trees",
        json={"source": f"name: {unique('ro')}\nstart: done\nnodes:\n  done: {{kind: end}}\n"},
    )
    await sign_in(page, stack, "read-only")
    await page.get_by_role("link", name="Operate").click()
    await expect(page.get_by_role("heading", name="Schedules")).to_be_visible()
    await expect(page.get_by_role("button", name="Create schedule")).to_have_count(0)
    await expect(page.get_by_role("button", name="Pause", exact=False)).to_have_count(0)
    await assert_accessible(page)

    await page.get_by_role("link", name="Members").click()
    await expect(page.get_by_role("cell", name="studio-admin", exact=True)).to_be_visible()
    await expect(page.get_by_role("combobox")).to_have_count(0)
    await expect(page.get_by_role("button", name="Remove", exact=False)).to_have_count(0)
    await expect(page.get_by_role("heading", name="Invitations")).to_have_count(0)

    await page.get_by_role("link", name="Secrets").click()
    await expect(page.get_by_role("alert")).to_contain_text("Forbidden")
    await expect(page.get_by_role("button", name="Set secret")).to_have_count(0)

    await page.get_by_role("link", name="API keys").click()
    await expect(page.get_by_role("alert")).to_contain_text("Forbidden")
    await expect(page.get_by_role("button", name="Create key")).to_have_count(0)
    await expect(page.get_by_role("button", name="Revoke", exact=False)).to_have_count(0)
    await accessible_screenshot(page, "operate-read-only")


async def test_admin_invites_changes_a_role_and_removes_a_member(page: Page, stack: Stack) -> None:
    member = unique("ada")
    actor = await create_actor(stack.app, member, {stack.tenant_id: Role.USER})
    await actor.client.aclose()
    await sign_in(page, stack, "admin")
    await page.goto(stack.url(f"/t/{stack.tenant_id}/operate/members"))

    await page.get_by_label(f"Role of {member}").select_option("read-only")
    await expect(page.get_by_label(f"Role of {member}")).to_have_value("read-only")
    listed = (await admin_call(stack, "GET", "/members")).json()["members"]
    assert {m["display_name"]: m["role"] for m in listed}[member] == "read-only"

    email = f"{member}@example.test"
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Role", exact=True).select_option("admin")
    await page.get_by_role("button", name="Invite").click()
    invitation = page.get_by_role("listitem").filter(has_text=email)
    await expect(invitation).to_contain_text("as admin")
    await assert_accessible(page)
    await page.get_by_role("button", name=f"Cancel the invitation of {email}").click()
    await expect(invitation).to_have_count(0)

    await page.get_by_role("button", name=f"Remove {member}").click()
    await expect(page.get_by_role("cell", name=member, exact=True)).to_have_count(0)
    listed = (await admin_call(stack, "GET", "/members")).json()["members"]
    assert member not in {m["display_name"] for m in listed}
    await screenshot(page, "operate-members")


async def test_a_failed_provider_login_shows_why(page: Page, stack: Stack) -> None:
    await page.goto(stack.url(f"/auth/callback/{PROVIDER}?error=access_denied"))
    await expect(page.get_by_role("alert")).to_contain_text("access_denied")
    # A state the API never issued (or one already used): the API's problem, plainly.
    await page.goto(stack.url(f"/auth/callback/{PROVIDER}?code=x&state=not-issued"))
    await expect(page.get_by_role("alert")).to_contain_text("login failed")
    await accessible_screenshot(page, "operate-login-failed")
    await page.get_by_role("link", name="Back to sign-in").click()
    await expect(page.get_by_role("link", name=f"Sign in with {PROVIDER}")).to_be_visible()
