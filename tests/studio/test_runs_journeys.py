"""Studio run journeys in headless Chromium against the real API, Temporal and worker:
watch a run live through its event stream, read a node's step record, cancel, re-run
from a node, and the runs list filtered and paged."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Page, Request, expect

from activities.tool_modules import build_registry
from tests.api.conftest import client_for
from tests.studio.conftest import Stack, assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.studio, pytest.mark.usefixtures("with_test_tools")]


@pytest.fixture
def with_test_tools(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API compiles trees with the test tools (`add`, `slow`) the session worker hosts."""
    services = stack.app.state.services
    monkeypatch.setattr(services, "registry", build_registry(["tests.support.tools:TEST_TOOLS"]))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


LIVE_TREE = """name: {name}
description: adds, waits a little, asks, then charts
inputs:
  b: {{type: integer, description: Added to 2}}
start: add
nodes:
  add:
    kind: tool
    tool: add@^1
    args: {{a: 2, b: "{{{{ inputs.b }}}}"}}
    next: pause
  pause:
    kind: tool
    tool: slow@^1
    args: {{seconds: 3}}
    next: ask
  ask:
    kind: input
    prompt: "Chart the sum?"
    choices: [chart, skip]
    save_as: choice
    timeout: 1h
    next: chart
  chart:
    kind: tool
    tool: visualize@^1
    args:
      kind: bar
      title: Sums
      x: label
      y: value
      data: [{{label: sum, value: "{{{{ results.add.sum }}}}"}}, {{label: b, value: 1}}]
    next: done
  done:
    kind: end
    output: {{sum: "{{{{ results.add.sum }}}}", chart: "{{{{ results.chart }}}}"}}
"""

SUM_TREE = """name: {name}
description: two additions, the second from the first
inputs:
  b: {{type: integer}}
start: first
nodes:
  first:
    kind: tool
    tool: add@^1
    args: {{a: 1, b: 2}}
    next: second
  second:
    kind: tool
    tool: add@^1
    args: {{a: "{{{{ results.first.sum }}}}", b: "{{{{ inputs.b }}}}"}}
    next: done
  done:
    kind: end
    output: {{total: "{{{{ results.second.sum }}}}"}}
"""

ASK_TREE = """name: {name}
description: waits for an answer
start: ask
nodes:
  ask:
    kind: input
    prompt: "Go on?"
    choices: [go, stop]
    save_as: answer
    timeout: 1h
    next: done
  done:
    kind: end
    output: {{answer: "{{{{ state.answer }}}}"}}
"""


async def create_tree(stack: Stack, source: str) -> None:
    async with client_for(stack.app, stack.keys["admin"]) as client:
        response = await client.post(
            f"/v1/tenants/{stack.tenant_id}/trees", json={"source": source}
        )
        assert response.status_code == 201, response.text


async def start_run(stack: Stack, tree: str, inputs: dict[str, Any] | None = None) -> str:
    key = unique("run")
    async with client_for(stack.app, stack.keys["admin"]) as client:
        response = await client.post(
            f"/v1/tenants/{stack.tenant_id}/runs",
            json={"tree": tree, "inputs": inputs or {}},
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 201, response.text
    return key


async def wait_status(stack: Stack, key: str, statuses: set[str]) -> dict[str, Any]:
    async with client_for(stack.app, stack.keys["admin"]) as client:
        for _ in range(300):
            view: dict[str, Any] = (
                await client.get(f"/v1/tenants/{stack.tenant_id}/runs/{key}")
            ).json()
            if view["status"] in statuses:
                return view
            await asyncio.sleep(0.1)
    raise AssertionError(f"run {key} never reached {statuses}: {view['status']}")


async def open_new_run(
    page: Page,
    stack: Stack,
    source: str,
    role: str,
    inputs: dict[str, Any] | None = None,
    until: set[str] | None = None,
) -> str:
    """Create a tree from `source`, start a run (waiting for `until`), open its view as `role`."""
    name = unique("tree")
    await create_tree(stack, source.format(name=name))
    key = await start_run(stack, name, inputs)
    if until:
        await wait_status(stack, key, until)
    await sign_in(page, stack, role)
    await page.goto(stack.url(f"/t/{stack.tenant_id}/runs/{key}"))
    return key


class RequestLog:
    """GET requests the page makes for one run: its event stream and its view."""

    def __init__(self, page: Page, tenant: uuid.UUID) -> None:
        self.tenant = tenant
        self.events: list[str] = []
        self.views: list[str] = []
        page.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        if request.method != "GET" or f"/v1/tenants/{self.tenant}/runs/" not in request.url:
            return
        path = request.url.split("?")[0]
        if path.endswith("/events"):
            self.events.append(request.url)
        elif re.search(r"/runs/[^/]+$", path):
            self.views.append(request.url)


async def test_start_a_run_and_watch_its_nodes_turn_done_live(page: Page, stack: Stack) -> None:
    name = unique("live")
    await create_tree(stack, LIVE_TREE.format(name=name))
    log = RequestLog(page, stack.tenant_id)
    await sign_in(page, stack, "user")
    await page.get_by_role("link", name=f"Run {name}").click()
    await page.get_by_label("b (required)").fill("3")
    await page.get_by_role("button", name="Start run").click()
    await expect(page.get_by_test_id("run-transport")).to_have_text("live")
    # The slow tool runs for 3 s: its node is seen running, then done, through the stream.
    await expect(page.get_by_test_id("node-add")).to_have_attribute("data-state", "done")
    await expect(page.get_by_test_id("node-pause")).to_have_attribute("data-state", "running")
    await expect(page.get_by_test_id("run-path")).to_have_text("add → pause")
    views_while_running = len(log.views)
    await expect(page.get_by_test_id("node-pause")).to_have_attribute(
        "data-state", "done", timeout=30_000
    )
    # No polling: the view was not re-read to see the step finish (a 500 ms poll would
    # have read it about six times in those 3 s); at most once for the input that follows.
    assert len(log.views) - views_while_running <= 1, log.views
    await expect(page.get_by_test_id("node-ask")).to_have_attribute("data-state", "waiting")
    await expect(page.get_by_test_id("run-status")).to_have_text("waiting_input")
    await expect(page.get_by_test_id("node-chart")).to_have_attribute("data-state", "")
    await assert_accessible(page)
    await page.get_by_label("Chart the sum?").select_option("chart")
    await page.get_by_role("button", name="Answer").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=30_000)
    for node in ("add", "pause", "ask", "chart", "done"):
        await expect(page.get_by_test_id(f"node-{node}")).to_have_attribute("data-state", "done")
    # The status comes from the stream's run.ended; the whole output from the run view,
    # read again after it (the stream carries only a 2 KB preview): allow that read time.
    await expect(page.get_by_test_id("run-output")).to_contain_text('"sum": 5', timeout=30_000)
    chart = page.get_by_test_id("chart").first
    await expect(chart).to_be_visible()
    await expect(chart.get_by_role("img")).to_have_attribute("alt", re.compile("Sums"))
    assert len(log.events) >= 1
    assert len(log.views) <= 8, log.views  # the read once, on input and at the end
    await screenshot(page, "runs-live")


async def test_click_a_node_to_see_its_step_record(page: Page, stack: Stack) -> None:
    await open_new_run(page, stack, SUM_TREE, "read-only", {"b": 4}, {"completed"})
    await expect(page.get_by_test_id("node-second")).to_have_attribute("data-state", "done")
    await page.get_by_test_id("node-second").click()
    panel = page.get_by_test_id("step-panel")
    await expect(panel.get_by_role("heading", name="Node second")).to_be_visible()
    record = panel.get_by_test_id("step-record")
    await expect(record.get_by_test_id("step-outcome")).to_have_text("completed")
    await expect(record.get_by_test_id("step-attempts")).to_have_text("1")
    await expect(record.get_by_test_id("step-duration")).to_have_text(
        re.compile(r"\d+(\.\d)? (ms|s)")
    )
    await expect(record.get_by_label("Arguments")).to_contain_text('"a": 3')
    await expect(record.get_by_label("Arguments")).to_contain_text('"b": 4')
    await expect(record.get_by_label("Result")).to_contain_text('"sum": 7')
    await expect(record).to_contain_text("add@1.0.0")
    # A read-only member sees the record but is offered no re-run.
    await expect(panel.get_by_role("button", name=re.compile("Re-run"))).to_have_count(0)
    await assert_accessible(page)
    await page.get_by_role("button", name="Close the step panel").click()
    await expect(panel).to_have_count(0)
    await page.get_by_test_id("node-first").click()
    await expect(panel.get_by_label("Result")).to_contain_text('"sum": 3')
    # Keyboard: the path's steps open the same panel.
    await page.get_by_role("button", name="Step record of second").press("Enter")
    await expect(panel.get_by_role("heading", name="Node second")).to_be_visible()
    await expect(panel.get_by_label("Result")).to_contain_text('"sum": 7')
    await screenshot(page, "runs-step-record")


async def test_cancel_a_waiting_run(page: Page, stack: Stack) -> None:
    key = await open_new_run(page, stack, ASK_TREE, "user")
    await expect(page.get_by_test_id("run-status")).to_have_text("waiting_input", timeout=30_000)
    await expect(page.get_by_test_id("node-ask")).to_have_attribute("data-state", "waiting")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Cancel run").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("cancelled", timeout=30_000)
    await expect(page.get_by_test_id("node-ask")).to_have_attribute("data-state", "skipped")
    await expect(page.get_by_test_id("node-done")).to_have_attribute("data-state", "skipped")
    await expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    await expect(page.get_by_role("button", name="Answer")).to_have_count(0)
    closed = await wait_status(stack, key, {"cancelled"})
    assert closed["status"] == "cancelled"
    await screenshot(page, "runs-cancelled")


async def test_rerun_from_a_node_lands_on_the_new_run_linked_to_its_origin(
    page: Page, stack: Stack
) -> None:
    origin = await open_new_run(page, stack, SUM_TREE, "user", {"b": 1}, {"completed"})
    await expect(page.get_by_test_id("run-output")).to_contain_text('"total": 4')
    await page.get_by_test_id("node-second").click()
    await page.get_by_label("Input overrides (JSON object, optional)").fill("[1]")
    await page.get_by_role("button", name="Re-run from second").click()
    await expect(page.get_by_role("alert")).to_contain_text("Enter a JSON object")
    await page.get_by_label("Input overrides (JSON object, optional)").fill('{"b": 10}')
    await page.get_by_role("button", name="Re-run from second").click()
    await page.wait_for_url(re.compile(r"/runs/studio-rerun-"))
    rerun_key = page.url.rsplit("/", 1)[1]
    assert rerun_key != origin
    await expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=30_000)
    await expect(page.get_by_test_id("run-output")).to_contain_text('"total": 13')
    await expect(page.get_by_test_id("rerun-of")).to_contain_text(f"Re-run of {origin}")
    await expect(page.get_by_test_id("rerun-of")).to_contain_text("second")
    await assert_accessible(page)
    view = await wait_status(stack, rerun_key, {"completed"})
    assert view["rerun_of"]["id"] == origin
    assert view["rerun_of"]["from_node"] == "second"
    # The origin lists its re-run, linked.
    await page.get_by_test_id("rerun-of").get_by_role("link", name=origin).click()
    await expect(page.get_by_role("heading", name=f"Run {origin}")).to_be_visible()
    await expect(
        page.get_by_role("navigation", name="Re-runs").get_by_role("link", name=rerun_key)
    ).to_be_visible()
    await screenshot(page, "runs-rerun")


async def test_runs_list_filtered_by_status_and_paged(page: Page, stack: Stack) -> None:
    name = unique("listed")
    await create_tree(stack, ASK_TREE.format(name=name))
    keys = [await start_run(stack, name) for _ in range(4)]
    async with client_for(stack.app, stack.keys["admin"]) as client:
        for key in keys[:3]:
            await wait_status(stack, key, {"waiting_input"})
            answered = await client.post(
                f"/v1/tenants/{stack.tenant_id}/runs/{key}/input",
                json={"node": "ask", "value": "go"},
            )
            assert answered.status_code == 200, answered.text
    completed = set(keys[:3])
    for key in completed:
        await wait_status(stack, key, {"completed"})
    await wait_status(stack, keys[3], {"waiting_input"})
    await sign_in(page, stack, "read-only")
    await page.get_by_role("navigation", name="Tenant").get_by_role("link", name="Runs").click()
    await expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    await page.get_by_label("Tree").fill(name)
    await page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("run-row")
    await expect(rows).to_have_count(4, timeout=30_000)  # visibility is eventually consistent
    await page.get_by_label("Status").select_option("completed")
    await expect(page).to_have_url(re.compile("status=completed"))
    await expect(rows).to_have_count(3, timeout=30_000)
    # Two per page (the page size rides in the URL with the filters).
    await page.goto(page.url + "&limit=2")
    await expect(rows).to_have_count(2)
    first_page = set(await rows.locator("td:first-child").all_inner_texts())
    await expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    await page.get_by_role("button", name="Next page").click()
    await expect(page).to_have_url(re.compile("page="))
    await expect(rows).to_have_count(1)
    second_page = set(await rows.locator("td:first-child").all_inner_texts())
    assert first_page | second_page == completed
    assert not first_page & second_page
    for status in await rows.locator("td:nth-child(3)").all_inner_texts():
        assert status == "completed"
    await assert_accessible(page)
    await page.get_by_role("button", name="Previous page").click()
    await expect(rows).to_have_count(2)
    assert set(await rows.locator("td:first-child").all_inner_texts()) == first_page
    # The start-time filter: nothing of these runs started before 2000.
    await page.get_by_label("Started before").fill("2000-01-01T00:00")
    await expect(page).to_have_url(re.compile("before=(1999|2000)-"))
    await expect(page.get_by_text("No runs match these filters.")).to_be_visible()
    await page.get_by_label("Started after").fill("2000-01-01T00:00")
    await page.get_by_label("Started before").fill("")
    await expect(rows).to_have_count(2)
    await rows.first.get_by_role("link").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("completed")
    await page.go_back()
    await expect(rows).to_have_count(2)
    await screenshot(page, "runs-list")
