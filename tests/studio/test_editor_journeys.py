"""Editor journeys in headless Chromium: create a tree from scratch, build it by drag and
drop, fix what the checklist pins on a node, save and publish; copy/paste nodes across trees."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page, expect

from tests.studio.conftest import Stack, assert_accessible, screenshot, sign_in
from tests.studio.test_journeys import (
    KEYBOARD_TREE,
    create_tree,
    unique,
    version_nodes,
    version_source,
)
from tests.support.trees import tool_node

pytestmark = pytest.mark.studio


async def drop_on(page: Page, entry: str, target: Locator, **position: float) -> None:
    """Drag a palette entry (HTML5 drag and drop) onto the canvas or a node."""
    palette = page.get_by_role("complementary", name="Palette")
    source = palette.get_by_role("button", name=entry, exact=True)
    if position:
        await source.drag_to(target, target_position={"x": position["x"], "y": position["y"]})
    else:
        await source.drag_to(target)


async def drag_handle(page: Page, source: str, target: str) -> None:
    """Connect two nodes by dragging from one's bottom handle to the other's top handle."""
    start = page.get_by_test_id(f"node-{source}").locator(".react-flow__handle.source")
    end = page.get_by_test_id(f"node-{target}").locator(".react-flow__handle.target")
    begin, finish = await start.bounding_box(), await end.bounding_box()
    assert begin is not None
    assert finish is not None
    await page.mouse.move(begin["x"] + begin["width"] / 2, begin["y"] + begin["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(
        finish["x"] + finish["width"] / 2, finish["y"] + finish["height"] / 2, steps=12
    )
    await page.mouse.up()


async def test_create_a_tree_build_it_by_drag_and_drop_fix_save_and_publish(
    page: Page, stack: Stack
) -> None:
    name = unique("built")
    await sign_in(page, stack, "user")
    # From scratch: a name the compiler would refuse is caught before the editor opens.
    await page.get_by_label("New tree name").fill("Not A Name")
    await expect(page.get_by_role("button", name="New tree", exact=True)).to_be_disabled()
    await expect(page.get_by_text("Use lowercase letters")).to_be_visible()
    await page.get_by_label("New tree name").fill(name)
    await page.get_by_role("button", name="New tree", exact=True).click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()
    await expect(page.get_by_text("new · not saved yet")).to_be_visible()
    await expect(page.get_by_test_id("node-done")).to_be_visible()
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await expect(page.get_by_text("Ctrl+Shift+Z / Ctrl+Y")).to_be_visible()  # the shortcut list
    await assert_accessible(page)
    await page.get_by_role("button", name="Create tree").click()  # POST /trees: version 1
    await expect(page.get_by_text(f"Created {name}, version 1.")).to_be_visible()
    await expect(page.get_by_text("v1 · unpublished")).to_be_visible()

    # Drag and drop: a decision on the pane, then two tools onto it (its two branches).
    canvas = page.get_by_test_id("canvas")
    await drop_on(page, "+ decision", canvas, x=40, y=40)
    await expect(page.get_by_role("heading", name="decision decision")).to_be_visible()
    await drop_on(page, "+ text_response@1.0.0", page.get_by_test_id("node-decision"))
    await expect(page.get_by_text("Added text_response after decision.")).to_be_visible()
    await drop_on(page, "+ summarize@1.0.0", page.get_by_test_id("node-decision"))
    await expect(page.get_by_text("Added summarize after decision.")).to_be_visible()
    # Connect by dragging a handle, and from the inspector.
    await expect(page.get_by_test_id("canvas")).to_have_attribute("data-laid-out", "yes")
    await page.wait_for_timeout(300)  # the refit after layout
    await drag_handle(page, "text_response", "done")
    await page.get_by_label("Inspect node").select_option("summarize")
    await page.get_by_label("Connect to").select_option("done")
    await page.get_by_role("button", name="Connect", exact=True).click()
    await page.get_by_test_id("node-decision").click()
    await page.get_by_role("button", name="Make start node").click()
    await expect(page.get_by_test_id("node-decision")).to_contain_text("start")

    # The checklist pins the unguarded first branch on the decision and its field.
    await expect(page.get_by_test_id("node-decision")).to_contain_text("1 problem")
    await expect(page.get_by_role("button", name="decision.branches.0")).to_be_visible()
    when = page.get_by_label("When").first
    await expect(when).to_have_attribute("aria-invalid", "true")
    scope = page.get_by_role("list", name="Names in scope at decision")
    for scope_name in ("inputs", "passes.decision", "conversation.turns", "tools.summarize"):
        await expect(scope.get_by_text(scope_name, exact=True)).to_be_visible()
    await expect(scope.get_by_text("results.summarize", exact=True)).to_have_count(0)
    await when.fill("inputs.mode == 'short'")
    await expect(page.get_by_test_id("node-decision")).not_to_contain_text("problem")
    # The tools' arguments, from their input schemas.
    await page.get_by_test_id("node-text_response").click()
    await expect(page.get_by_role("heading", name="tool text_response")).to_be_visible()
    names = page.get_by_role("list", name="Names in scope at text_response")
    await expect(names.get_by_text("results.decision", exact=True)).to_be_visible()
    await page.get_by_label("text (required)").fill("A short answer.")
    await page.get_by_test_id("node-summarize").click()
    await expect(page.get_by_role("heading", name="tool summarize")).to_be_visible()
    text_arg = page.get_by_label("text (required)")
    # Template fields offer the names in scope as `{{ }}` completions.
    options = page.locator(f"datalist#{await text_arg.get_attribute('list')} option")
    assert "{{ results.decision }}" in await options.evaluate_all("os => os.map(o => o.value)")
    await text_arg.fill("{{ inputs.question }}")
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_role("button", name="Save as new version").click()
    await expect(page.get_by_text("Saved version 2.")).to_be_visible()
    await page.get_by_role("button", name="Publish v2").click()
    await expect(page.get_by_text("Published version 2.")).to_be_visible()
    saved = await version_source(stack, name, 2)
    assert saved["start"] == "decision"
    nodes = await version_nodes(stack, name, 2)
    assert nodes["decision"]["branches"] == [
        {"to": "text_response", "when": "inputs.mode == 'short'"},
        {"to": "summarize"},
    ]
    assert nodes["text_response"]["args"] == {"text": "A short answer."}
    assert nodes["text_response"]["next"] == "done"
    assert nodes["summarize"]["args"] == {"text": "{{ inputs.question }}"}
    assert nodes["summarize"]["next"] == "done"
    await screenshot(page, "editor-drag-and-drop")


async def test_copy_and_paste_nodes_across_trees_with_shortcuts(page: Page, stack: Stack) -> None:
    first, second = unique("copy-from"), unique("paste-into")
    await create_tree(stack, KEYBOARD_TREE.format(name=first))
    await create_tree(stack, KEYBOARD_TREE.format(name=second))
    await page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=stack.base_url
    )
    await sign_in(page, stack, "user")
    await page.get_by_role("link", name=first, exact=True).click()
    # Keyboard only: a canvas node takes focus and Enter selects it for the inspector.
    await page.locator('.react-flow__node[data-id="greet"]').focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="tool greet")).to_be_visible()
    await page.keyboard.press("Control+c")
    await expect(page.get_by_text("Copied greet as YAML.")).to_be_visible()
    clip = await page.evaluate("navigator.clipboard.readText()")
    assert clip.startswith("treeflow-nodes:"), clip
    assert "text_response@^1" in clip

    await page.get_by_role("link", name="Trees", exact=True).click()
    await page.get_by_role("link", name=second, exact=True).click()
    await expect(page.get_by_role("heading", name=second)).to_be_visible()
    await page.get_by_test_id("canvas").click(position={"x": 20, "y": 20})  # focus the page
    await page.keyboard.press("Control+v")
    # `greet` is taken in this tree: the paste is renamed; its `next: done` is kept.
    await expect(page.get_by_text("Pasted greet_2.")).to_be_visible()
    await expect(page.get_by_test_id("node-greet_2")).to_be_visible()
    await expect(page.get_by_role("heading", name="tool greet_2")).to_be_visible()
    await expect(page.get_by_label("Next")).to_have_value("done")
    # Delete with the key, bring it back with undo.
    await page.get_by_test_id("node-greet_2").click()
    await page.keyboard.press("Delete")
    await expect(page.get_by_test_id("node-greet_2")).to_have_count(0)
    await page.keyboard.press("Control+z")
    await expect(page.get_by_test_id("node-greet_2")).to_be_visible()
    await page.keyboard.press("Control+Shift+z")
    await expect(page.get_by_test_id("node-greet_2")).to_have_count(0)
    await page.keyboard.press("Control+z")
    await expect(page.get_by_test_id("node-greet_2")).to_contain_text("1 problem")
    await expect(page.get_by_text("unreachable from start node 'greet'")).to_be_visible()
    await page.get_by_label("Inspect node").select_option("greet")
    await page.get_by_label("Next").select_option("greet_2")
    await expect(page.get_by_role("heading", name="Checklist ✓ compiles")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Save as new version").click()
    await expect(page.get_by_text("Saved version 2.")).to_be_visible()
    nodes = await version_nodes(stack, second, 2)
    assert nodes["greet"]["next"] == "greet_2"
    assert nodes["greet_2"] == tool_node("text_response@^1", {"text": "Hello"}, next="done")
    await screenshot(page, "editor-copy-paste")
