"""Studio journeys of tree versions (list, diff, publish, rollout) and the tools registry."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from foundation.flags.client import FlagClient
from foundation.flags.rollout import rollout_flag
from foundation.flags.settings import DEFAULT_FLAGS_FILE, FlagSettings
from tests.api.conftest import client_for
from tests.api.test_tools_api import weather_tool
from tests.api.test_tree_rollout import percent_rollout
from tests.studio.conftest import Stack, accessible_screenshot, assert_accessible, sign_in
from tests.studio.test_journeys import instantiate, unique

pytestmark = pytest.mark.studio


async def add_version(stack: Stack, name: str, change: tuple[str, str]) -> None:
    """A new version of the tree with one text replacement in its latest source."""
    async with client_for(stack.app, stack.keys["admin"]) as client:
        url = f"/v1/tenants/{stack.tenant_id}/trees/{name}"
        latest = (await client.get(url)).json()["latest_version"]
        source = (await client.get(f"{url}/versions/{latest}")).json()["source"]
        assert change[0] in source
        response = await client.post(f"{url}/versions", json={"source": source.replace(*change, 1)})
        assert response.status_code == 201, response.text


async def two_version_tree(stack: Stack, prefix: str, sentences: int) -> str:
    """A new support-triage tree: v1 published, v2 a draft with `max_sentences: <sentences>`."""
    name = unique(prefix)
    await instantiate(stack, "support-triage", name)
    await add_version(stack, name, ("max_sentences: 2", f"max_sentences: {sentences}"))
    return name


@asynccontextmanager
async def rollout_on(stack: Stack, tree: str, percent: int, folder: Path) -> AsyncIterator[None]:
    """The stack's flags plus `tree`'s rollout flag at `percent`, for the test's duration."""
    flags = json.loads(DEFAULT_FLAGS_FILE.read_text(encoding="utf-8"))
    flags["features"].append(percent_rollout(rollout_flag(tree), str(stack.tenant_id), percent))
    (folder / "flags.json").write_text(json.dumps(flags), encoding="utf-8")
    services = stack.app.state.services
    original = services.flags
    swapped = FlagClient(FlagSettings(file=folder / "flags.json", cache_dir=folder / "cache"))
    services.flags = swapped.start()
    try:
        yield
    finally:
        services.flags = original
        swapped.stop()


async def register_http_tool(stack: Stack, name: str, versions: list[str]) -> None:
    """Versions of a tenant HTTP tool (the stack allows no hosts: one is allowed meanwhile)."""
    services = stack.app.state.services
    original = services.settings
    services.settings = original.model_copy(
        update={"declarative_http_allowed_hosts": ["127.0.0.1"]}
    )
    try:
        async with client_for(stack.app, stack.keys["admin"]) as client:
            for version in versions:
                tool = weather_tool(name, "http://127.0.0.1:9/weather", version)
                response = await client.post(f"/v1/tenants/{stack.tenant_id}/tools", json=tool)
                assert response.status_code == 201, response.text
    finally:
        services.settings = original


async def test_save_see_versions_diff_them_and_publish_the_older_one(
    page: Page, stack: Stack
) -> None:
    name = unique("versions")
    await instantiate(stack, "support-triage", name)  # version 1
    await sign_in(page, stack, "user")
    await page.get_by_role("link", name=name, exact=True).click()
    await page.get_by_label("Inspect node").select_option("billing_policy")
    await page.get_by_label("max_sentences").fill("3")
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await page.get_by_role("button", name="Save as new version").click()
    await expect(page.get_by_text("Saved version 2.")).to_be_visible()

    await page.get_by_role("link", name="Versions", exact=True).click()
    await expect(page.get_by_role("heading", name=f"Versions of {name}")).to_be_visible()
    rows = page.get_by_role("table", name=f"Versions of {name}").get_by_role("row")
    await expect(rows).to_have_count(3)  # header, v2, v1
    await expect(rows.nth(1)).to_contain_text("latest")
    await expect(page.get_by_label("From")).to_have_value("1")
    await expect(page.get_by_label("To")).to_have_value("2")
    # The meaning diff from the API: the one node whose arguments changed.
    await expect(page.get_by_text("Meaning changed: 1 changed.")).to_be_visible()
    changes = page.get_by_role("list", name="Node changes")
    await expect(changes.get_by_role("listitem")).to_have_count(1)
    await expect(changes).to_contain_text("Changed billing_policy")
    # The text diff of the YAML: the line added in version 2.
    added = page.locator(".text-diff tr.line-added")
    await expect(added.filter(has_text="max_sentences: 3")).to_have_count(1)
    await assert_accessible(page)

    await expect(rows.nth(2)).to_contain_text("published")  # the gallery published v1
    await page.get_by_role("button", name="Publish v2").click()
    await expect(page.get_by_text("Published version 2.")).to_be_visible()
    await expect(
        page.get_by_text("No rollout flag: every run that names no version uses v2.")
    ).to_be_visible()
    await page.get_by_role("button", name="Publish v1").click()  # back to the older one
    await expect(page.get_by_text("Published version 1.")).to_be_visible()
    await expect(rows.nth(2)).to_contain_text("published")
    await expect(page.get_by_role("button", name="Publish v1")).to_have_count(0)
    await expect(page.get_by_role("button", name="Publish v2")).to_be_visible()
    await expect(
        page.get_by_text("No rollout flag: every run that names no version uses v1.")
    ).to_be_visible()
    await expect(page.get_by_text(f"tree.{name}.rollout")).to_be_visible()
    await page.get_by_label("From").select_option("2")
    await page.get_by_label("To").select_option("1")
    await expect(page.get_by_text("Meaning changed: 1 changed.")).to_be_visible()
    await expect(
        page.locator(".text-diff tr.line-removed").filter(has_text="max_sentences: 3")
    ).to_have_count(1)
    await accessible_screenshot(page, "versions-diff-publish")


async def test_browse_the_tools_registry_and_read_a_tools_schema(page: Page, stack: Stack) -> None:
    await sign_in(page, stack, "user")
    await page.get_by_role("navigation", name="Tenant").get_by_role("link", name="Tools").click()
    await expect(page.get_by_role("heading", name="Tools")).to_be_visible()
    await expect(page.get_by_role("link", name="summarize", exact=True)).to_be_visible()
    allowed_only = page.get_by_label("Only tools this tenant's runs may use")
    await expect(allowed_only).to_be_checked()
    await allowed_only.uncheck()  # every tool in this tenant is allowed: the list stays
    await expect(page.get_by_role("link", name="summarize", exact=True)).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("Search tools").fill("text_response")
    await expect(page.get_by_role("link", name="summarize", exact=True)).to_have_count(0)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="text_response"))
    await expect(row).to_contain_text("Reply to the user with text")
    await expect(row).to_contain_text("1.0.0")
    await page.get_by_role("link", name="text_response", exact=True).click()
    await expect(page.get_by_role("heading", name="text_response", exact=True)).to_be_visible()
    await expect(page.get_by_label("Version")).to_have_value(re.compile(r"^\d+\.\d+\.\d+$"))
    inputs = page.get_by_role("table", name="Input")
    await expect(inputs.get_by_role("rowheader", name="text", exact=True)).to_be_visible()
    await expect(inputs.get_by_role("row").filter(has_text="text")).to_contain_text("required")
    await page.get_by_text("Input as JSON Schema").click()
    await expect(page.locator("details[open] pre")).to_contain_text('"properties"')
    await expect(page.get_by_role("button", name=re.compile("^Deprecate"))).to_have_count(0)
    await accessible_screenshot(page, "tools-registry")


async def test_a_read_only_member_sees_versions_but_no_publish_controls(
    page: Page, stack: Stack
) -> None:
    name = await two_version_tree(stack, "ro-versions", 4)
    await sign_in(page, stack, "read-only")
    await page.get_by_role("link", name=name, exact=True).click()
    await page.get_by_role("link", name="Versions", exact=True).click()
    await expect(page.get_by_role("heading", name=f"Versions of {name}")).to_be_visible()
    await expect(page.get_by_text("read-only", exact=True)).to_be_visible()
    await expect(page.get_by_text("Meaning changed: 1 changed.")).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("^Publish"))).to_have_count(0)
    await expect(
        page.get_by_text("No rollout flag: every run that names no version uses v1.")
    ).to_be_visible()
    await page.goto(stack.url(f"/t/{stack.tenant_id}/tools/summarize"))
    await expect(page.get_by_role("heading", name="summarize", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("^Deprecate"))).to_have_count(0)
    await page.goto(stack.url(f"/t/{stack.tenant_id}/trees/{unique('gone')}/versions"))
    await expect(page.get_by_role("alert")).to_contain_text("tree not found")
    await page.goto(stack.url(f"/t/{stack.tenant_id}/trees/{name}/versions"))
    await expect(page.get_by_role("heading", name=f"Versions of {name}")).to_be_visible()
    await accessible_screenshot(page, "versions-read-only")


async def test_a_gradual_rollout_shows_how_runs_are_routed(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    name = await two_version_tree(stack, "canary", 1)
    async with rollout_on(stack, name, 50, tmp_path):
        await sign_in(page, stack, "user")
        await page.goto(stack.url(f"/t/{stack.tenant_id}/trees/{name}/versions"))
        sentence = page.get_by_text(re.compile(r"^Rollout in progress: about \d+% of runs use v2"))
        await expect(sentence).to_contain_text("the rest v1")
        share = int(re.findall(r"\d+", await sentence.inner_text())[0])
        assert 30 < share < 70, share
        await expect(page.get_by_text(f"tree.{name}.rollout is defined")).to_be_visible()
        await accessible_screenshot(page, "versions-rollout")


async def test_an_admin_deprecates_a_tenant_tool_version_a_reader_cannot(
    page: Page, stack: Stack
) -> None:
    name = unique("weather")
    await register_http_tool(stack, name, ["1.0.0", "1.1.0"])
    deprecate = page.get_by_role("button", name=re.compile("^Deprecate"))
    await sign_in(page, stack, "read-only")
    await page.goto(stack.url(f"/t/{stack.tenant_id}/tools/{name}"))
    await expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    await expect(page.get_by_text("Current conditions for a city")).to_be_visible()
    await expect(deprecate).to_have_count(0)
    await page.get_by_role("button", name="Sign out").click()

    await sign_in(page, stack, "admin")
    await page.get_by_role("navigation", name="Tenant").get_by_role("link", name="Tools").click()
    await page.get_by_label("Search tools").fill(name)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    await expect(row).to_contain_text("this tenant (HTTP)")
    await expect(row).to_contain_text("1.1.0, 1.0.0")
    await page.get_by_role("link", name=name, exact=True).click()
    await page.get_by_label("Version").select_option("1.0.0")
    inputs = page.get_by_role("table", name="Input")
    await expect(inputs.get_by_role("row").filter(has_text="city")).to_contain_text("minLength 1")
    await page.get_by_role("button", name="Deprecate 1.0.0").click()  # no message: the API says
    await expect(page.get_by_role("alert")).to_contain_text("body.message")
    await page.get_by_label("Deprecation message").fill("use 1.1.0")
    await page.get_by_role("button", name="Deprecate 1.0.0").click()
    await expect(page.get_by_text("Deprecated: use 1.1.0")).to_be_visible()
    await expect(deprecate).to_have_count(0)
    await expect(page.get_by_role("option", name="1.0.0 (deprecated)")).to_have_count(1)
    await accessible_screenshot(page, "tools-deprecate")
