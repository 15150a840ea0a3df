"""Studio journeys in headless Chromium against the real API, Temporal and worker."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Page, expect

from tests.api.conftest import client_for
from tests.studio.conftest import (
    Stack,
    accessible_screenshot,
    assert_accessible,
    screenshot,
    sign_in,
)
from tests.support.trees import tool_node
from treeflow.devstack import studio_sign_in_url

pytestmark = pytest.mark.studio


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def instantiate(stack: Stack, template: str, name: str) -> None:
    async with client_for(stack.app, stack.keys["admin"]) as client:
        response = await client.post(
            f"/v1/tenants/{stack.tenant_id}/templates/{template}/instantiate",
            json={"tree_name": name},
        )
        assert response.status_code == 201, response.text


async def create_tree(stack: Stack, source: str) -> None:
    async with client_for(stack.app, stack.keys["admin"]) as client:
        response = await client.post(
            f"/v1/tenants/{stack.tenant_id}/trees", json={"source": source}
        )
        assert response.status_code == 201, response.text


async def version_source(stack: Stack, name: str, version: int) -> dict[str, object]:
    async with client_for(stack.app, stack.keys["admin"]) as client:
        response = await client.get(
            f"/v1/tenants/{stack.tenant_id}/trees/{name}/versions/{version}"
        )
        assert response.status_code == 200, response.text
        loaded: dict[str, object] = yaml.safe_load(response.json()["source"])
        return loaded


async def version_nodes(stack: Stack, name: str, version: int) -> dict[str, dict[str, Any]]:
    """The `nodes` of a stored version, by id."""
    nodes = (await version_source(stack, name, version))["nodes"]
    assert isinstance(nodes, dict)
    return nodes


async def test_sign_in_with_an_api_key(page: Page, stack: Stack) -> None:
    await page.goto(stack.base_url + "/")  # / redirects to the Studio
    await expect(page.get_by_role("heading", name="Sign in to Treeflow Studio")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_label("API key").fill("tfk_not_a_real_key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("invalid or expired credentials")
    await sign_in(page, stack)
    assert page.url.endswith(f"/studio/t/{stack.tenant_id}/trees")
    await accessible_screenshot(page, "sign-in")
    await page.reload()  # the token survives a reload of the tab
    await expect(page.get_by_role("heading", name="Trees")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API key")).to_be_visible()


async def test_the_dev_stack_link_signs_in_with_one_click(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    key_file = tmp_path / "dev-api-key"
    key_file.write_text(stack.keys["admin"] + "\n")
    link = studio_sign_in_url(stack.base_url, key_file)  # what `./dev up` prints
    assert link.startswith(f"{stack.base_url}/studio/#key=tfk_")
    await page.goto(link)
    await expect(page.get_by_role("heading", name="Trees")).to_be_visible()
    assert "#" not in page.url
    assert "tfk_" not in page.url
    await screenshot(page, "dev-sign-in")


async def test_instantiate_a_template_from_the_gallery_and_run_it(page: Page, stack: Stack) -> None:
    name = unique("triage")
    await sign_in(page, stack, "user")
    await page.get_by_role("link", name="New from a template").click()
    card = page.get_by_role("article", name="support-triage")
    await expect(card).to_contain_text("Route a customer message")
    await assert_accessible(page)
    await card.get_by_label("Tree name").fill(name)
    await card.get_by_role("button", name="Use support-triage").click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await expect(page.get_by_test_id("node-classify")).to_be_visible()
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name="Run", exact=True).click()
    await page.get_by_label("question (required)").fill("I was charged twice for my subscription")
    await page.get_by_role("button", name="Start run").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=30_000)
    for node in ("classify", "billing_policy", "billing_reply", "done"):
        await expect(page.get_by_test_id(f"node-{node}")).to_have_attribute("data-state", "done")
    await expect(page.get_by_test_id("node-severity")).to_have_attribute("data-state", "skipped")
    await expect(page.get_by_test_id("run-output")).to_contain_text('"team": "billing"')
    await accessible_screenshot(page, "template-run")


async def test_edit_in_the_inspector_fix_a_problem_save_and_publish(
    page: Page, stack: Stack
) -> None:
    name = unique("edit")
    await instantiate(stack, "support-triage", name)
    await sign_in(page, stack, "user")
    await page.get_by_role("link", name=name, exact=True).click()
    await page.get_by_label("Inspect node").select_option("billing_policy")
    field = page.get_by_label("max_sentences")
    await field.fill("many")
    # The compile endpoint's problem lands on the node and on the field.
    await expect(page.get_by_test_id("node-billing_policy")).to_contain_text("1 problem")
    await expect(
        page.get_by_role("button", name="billing_policy.args.max_sentences")
    ).to_be_visible()
    await expect(field).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_role("button", name="Save as new version")).to_be_disabled()
    await field.fill("3")
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await page.get_by_role("button", name="Undo").click()  # the bounded undo history
    await expect(field).to_have_value("many")
    await expect(page.get_by_test_id("node-billing_policy")).to_contain_text("1 problem")
    await page.get_by_role("button", name="Redo").click()
    await expect(field).to_have_value("3")
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await page.get_by_role("button", name="YAML").click()
    await expect(page.get_by_test_id("yaml-editor")).to_contain_text("max_sentences: 3")
    await page.get_by_role("button", name="Canvas").click()
    await page.get_by_role("button", name="Save as new version").click()
    await expect(page.get_by_text("Saved version 2.")).to_be_visible()
    await page.get_by_role("button", name="Publish v2").click()
    await expect(page.get_by_text("Published version 2.")).to_be_visible()
    await expect(page.get_by_text("published v2")).to_be_visible()
    nodes = await version_nodes(stack, name, 2)
    assert nodes["billing_policy"]["args"]["max_sentences"] == 3
    await screenshot(page, "edit-save-publish")


async def test_a_read_only_member_sees_no_edit_controls(page: Page, stack: Stack) -> None:
    name = unique("ro")
    await instantiate(stack, "support-triage", name)
    await sign_in(page, stack, "read-only")
    await expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="New from a template")).to_have_count(0)
    await expect(page.get_by_role("link", name=re.compile("^Run "))).to_have_count(0)
    await page.get_by_role("link", name=name, exact=True).click()
    await expect(page.get_by_text("read-only", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Save as new version")).to_have_count(0)
    await expect(page.get_by_role("complementary", name="Palette")).to_have_count(0)
    await page.get_by_label("Inspect node").select_option("billing_policy")
    await expect(page.get_by_label("max_sentences")).not_to_be_editable()
    await expect(page.get_by_role("button", name="Delete node")).to_have_count(0)
    await accessible_screenshot(page, "read-only")


KEYBOARD_TREE = """name: {name}
description: a greeting
start: greet
nodes:
  greet:
    kind: tool
    tool: text_response@^1
    args: {{text: "Hello"}}
    next: done
  done:
    kind: end
    output: {{text: "{{{{ results.greet.text }}}}"}}
"""


async def test_keyboard_only_add_and_connect_a_node(page: Page, stack: Stack) -> None:
    name = unique("keys")
    await create_tree(stack, KEYBOARD_TREE.format(name=name))
    await sign_in(page, stack, "user")
    await page.get_by_role("link", name=name, exact=True).focus()
    await page.keyboard.press("Enter")
    add = page.get_by_role("button", name="+ text_response@1.0.0")
    await add.focus()
    await page.keyboard.press("Enter")  # adds node `text_response` and inspects it
    await expect(page.get_by_role("heading", name="tool text_response")).to_be_visible()
    await page.get_by_label("text (required)").focus()
    await page.keyboard.type("Bye")
    await page.get_by_label("Connect to").focus()
    await page.keyboard.type("done")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # the Connect button
    await page.get_by_label("Inspect node").focus()
    await page.keyboard.type("greet")
    await expect(page.get_by_role("heading", name="tool greet")).to_be_visible()
    await page.get_by_label("Next").focus()
    await page.keyboard.type("text_response")
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await expect(page.get_by_test_id("node-text_response")).to_be_visible()
    await page.get_by_role("button", name="Save as new version").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("Saved version 2.")).to_be_visible()
    nodes = await version_nodes(stack, name, 2)
    assert nodes["greet"]["next"] == "text_response"
    assert nodes["text_response"] == tool_node("text_response@^1", {"text": "Bye"}, next="done")
    await screenshot(page, "keyboard")


ASK_TREE = """name: {name}
description: asks before it answers
inputs:
  topic: {{type: string, description: What to publish}}
start: ask
nodes:
  ask:
    kind: input
    prompt: "Publish {{{{ inputs.topic }}}}?"
    choices: [approve, reject]
    save_as: approval
    next: done
  done:
    kind: end
    output: {{approval: "{{{{ state.approval }}}}"}}
"""


async def test_start_a_run_from_the_declared_inputs_and_answer_its_input_node(
    page: Page, stack: Stack
) -> None:
    name = unique("ask")
    await create_tree(stack, ASK_TREE.format(name=name))
    await sign_in(page, stack, "user")
    await page.get_by_role("link", name=f"Run {name}").click()
    await page.get_by_label("topic (required)").fill("the release notes")
    await page.get_by_role("button", name="Start run").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("waiting_input", timeout=30_000)
    await expect(page.get_by_test_id("node-ask")).to_have_attribute("data-state", "waiting")
    await assert_accessible(page)
    await page.get_by_label("Publish the release notes?").select_option("approve")
    await page.get_by_role("button", name="Answer").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=30_000)
    await expect(page.get_by_test_id("node-ask")).to_have_attribute("data-state", "done")
    await expect(page.get_by_test_id("run-output")).to_contain_text('"approval": "approve"')
    await screenshot(page, "answer-input")
