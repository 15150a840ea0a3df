"""Re-run from a node over the API, on the real dev server and the session worker.

The tree's tools are `tally@1.0.0` (tests/support/tools.py): every call appends a line
to a counter file, so a test counts exactly how often each node's tool ran, and the
last tool fails while a flag file exists (or when an input says so).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.tool_modules import build_registry
from api import reruns
from api.services import Services
from api.settings import Settings
from temporal_client import run_history
from temporal_client.connection import TemporalSettings
from tests.api.conftest import World, client_for
from tests.api.test_runs import runs_url, start, wait_until
from tests.api.test_trees import create, tree_source, trees_url, unique
from tests.support.tools import tally_calls
from tests.support.trees import yes_no
from treeflow.devserver import DevServer, free_port
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.search_attributes import ALL_KEYS, RERUN_OF


def tally(node: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"counter": f"{{{{ inputs.dir }}}}/{node}", "value": value, **extra}


def rerun_tree(name: str, charged: str = "charged {{ results.fetch.value }}") -> str:
    """fetch -> approve (input) -> route (rule) -> [enrich] -> charge -> done."""
    return yaml.safe_dump(
        {
            "name": name,
            "description": "tallies with a last step that can fail",
            "inputs": {
                "dir": {"type": "string"},
                "topic": {"type": "string"},
                "size": {"type": "integer", "default": 1},
                "fail": {"type": "boolean", "default": False},
            },
            "start": "fetch",
            "nodes": {
                "fetch": {
                    "kind": "tool",
                    "tool": "tally@^1",
                    "args": tally("fetch", "{{ inputs.topic }}"),
                    "next": "approve",
                },
                "approve": yes_no(
                    "Charge for {{ results.fetch.value }}?", "route", save_as="approval"
                ),
                "route": {
                    "kind": "decision",
                    "strategy": "rules",
                    "branches": [
                        {"id": "big", "when": "inputs.size > 10", "to": "enrich"},
                        {"id": "small", "to": "charge"},
                    ],
                },
                "enrich": {
                    "kind": "tool",
                    "tool": "tally@^1",
                    "args": tally("enrich", "{{ results.fetch.value }}+"),
                    "next": "charge",
                },
                "charge": {
                    "kind": "tool",
                    "tool": "tally@^1",
                    "args": tally(
                        "charge",
                        charged,
                        fail="{{ inputs.fail }}",
                        fail_while="{{ inputs.dir }}/broken",
                    ),
                    "next": "done",
                },
                "done": {
                    "kind": "end",
                    "output": {
                        "fetched": "{{ results.fetch.value }}",
                        "fetch_calls": "{{ results.fetch.calls }}",
                        "approval": "{{ state.approval }}",
                        "charged": "{{ results.charge.value }}",
                    },
                },
            },
        },
        sort_keys=False,
    )


@pytest.fixture
def with_tally(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API compiles trees with the test tools the session worker hosts."""
    monkeypatch.setattr(services, "registry", build_registry(["tests.support.tools:TEST_TOOLS"]))


def rerun_url(tenant: uuid.UUID, key: str) -> str:
    return f"{runs_url(tenant)}/{key}/rerun"


async def rerun(
    client: httpx.AsyncClient, tenant: uuid.UUID, origin: str, key: str, **body: Any
) -> httpx.Response:
    return await client.post(rerun_url(tenant, origin), json=body, headers={"Idempotency-Key": key})


async def failed_origin(world: World, tmp_path: Path, **inputs: Any) -> tuple[str, str]:
    """A run of a fresh tree that fails at `charge` after fetch and approve; (tree, key)."""
    name = unique("rerun")
    await create(world.user.client, world.tenant_a, rerun_tree(name))
    (tmp_path / "broken").touch()
    key = unique("origin")
    body = {"dir": str(tmp_path), "topic": "refund", **inputs}
    started = await start(world.user.client, world.tenant_a, name, key, inputs=body)
    assert started.status_code == 201, started.text
    url = started.json()["links"]["self"]
    await wait_until(world.user.client, url, {"waiting_input"})
    answered = await world.user.client.post(f"{url}/input", json={"value": "yes"})
    assert answered.status_code == 200, answered.text
    failed = await wait_until(world.user.client, url, {"failed"})
    assert failed["failure"]["message"].startswith("nodes.charge:")
    assert (tally_calls(tmp_path / "fetch"), tally_calls(tmp_path / "charge")) == (1, 1)
    return name, key


async def fixed_origin(world: World, tmp_path: Path) -> tuple[str, str]:
    """The failed origin run with its cause (the `broken` file) removed: reruns can pass."""
    name, key = await failed_origin(world, tmp_path)
    (tmp_path / "broken").unlink()
    return name, key


@pytest.mark.usefixtures("with_tally")
async def test_a_rerun_from_the_failed_node_skips_the_earlier_tools(
    world: World, tmp_path: Path
) -> None:
    _name, origin = await fixed_origin(world, tmp_path)
    key = unique("rerun")
    response = await rerun(world.user.client, world.tenant_a, origin, key)
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["rerun_of"] == {
        "id": origin,
        "workflow_id": f"{world.tenant_a}:{origin}",
        "run_id": view["rerun_of"]["run_id"],
        "from_node": "charge",
    }
    done = await wait_until(world.user.client, view["links"]["self"], {"completed"})
    # Recorded results and the recorded answer carried over: templates still render,
    # and `fetch_calls` is the origin's result (1), not a new call's.
    assert done["output"] == {
        "fetched": "refund",
        "fetch_calls": 1,
        "approval": "yes",
        "charged": "charged refund",
    }
    assert done["path"] == ["fetch", "approve", "route", "charge", "done"]
    assert done["rerun_of"]["from_node"] == "charge"
    assert tally_calls(tmp_path / "fetch") == 1  # not called again
    assert tally_calls(tmp_path / "charge") == 2

    again = await rerun(world.user.client, world.tenant_a, origin, key)
    assert again.status_code == 200
    assert again.json()["workflow_id"] == view["workflow_id"]
    different = await rerun(world.user.client, world.tenant_a, origin, key, from_node="fetch")
    assert different.status_code == 409
    assert different.json()["type"].endswith("idempotency-conflict")
    plain = await start(world.user.client, world.tenant_a, _name, key)
    assert plain.status_code == 409  # a run start under a re-run's key is a different request

    origin_url = f"{runs_url(world.tenant_a)}/{origin}"
    linked = await wait_for_reruns(world.read_only.client, origin_url, 1)
    assert [r["id"] for r in linked["reruns"]] == [key]
    assert linked["reruns"][0]["links"]["self"] == view["links"]["self"]
    listed = (await world.user.client.get(runs_url(world.tenant_a), params={"limit": 200})).json()
    summaries = {r["id"]: r for r in listed["runs"]}
    assert summaries[key]["rerun_of"] == origin
    assert summaries[origin]["rerun_of"] is None

    # A re-run of the re-run reuses what the re-run itself reused (fetch, the answer).
    second = await rerun(
        world.user.client, world.tenant_a, key, unique("again"), from_node="charge"
    )
    assert second.status_code == 201, second.text
    done = await wait_until(world.user.client, second.json()["links"]["self"], {"completed"})
    assert done["output"]["fetch_calls"] == 1
    assert done["output"]["approval"] == "yes"
    assert tally_calls(tmp_path / "fetch") == 1
    assert tally_calls(tmp_path / "charge") == 3


async def wait_for_reruns(
    client: httpx.AsyncClient, url: str, count: int, within: float = 20.0
) -> dict[str, Any]:
    import asyncio

    deadline = asyncio.get_running_loop().time() + within
    while True:
        view: dict[str, Any] = (await client.get(url)).json()
        if len(view.get("reruns", [])) >= count:
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the run never listed {count} re-runs: {view}")
        await asyncio.sleep(0.2)


@pytest.mark.usefixtures("with_tally")
async def test_input_overrides_recompute_rules_and_recall_changed_steps(
    world: World, tmp_path: Path
) -> None:
    _name, origin = await failed_origin(world, tmp_path, fail=True)
    assert not (tmp_path / "enrich").exists()
    (tmp_path / "broken").unlink()

    # A bigger `size` turns the rule decision to `enrich`, a node the origin never ran.
    bigger = await rerun(
        world.user.client, world.tenant_a, origin, unique("big"), inputs={"size": 20, "fail": False}
    )
    assert bigger.status_code == 201, bigger.text
    done = await wait_until(world.user.client, bigger.json()["links"]["self"], {"completed"})
    assert done["path"] == ["fetch", "approve", "route", "enrich", "charge", "done"]
    assert done["output"]["fetch_calls"] == 1
    assert tally_calls(tmp_path / "fetch") == 1
    assert tally_calls(tmp_path / "enrich") == 1

    # A new `topic` changes fetch's arguments: that step is called again.
    other = await rerun(
        world.user.client,
        world.tenant_a,
        origin,
        unique("topic"),
        inputs={"topic": "chargeback", "fail": False},
    )
    assert other.status_code == 201, other.text
    done = await wait_until(world.user.client, other.json()["links"]["self"], {"completed"})
    assert done["output"]["fetched"] == "chargeback"
    assert done["output"]["fetch_calls"] == 2
    assert tally_calls(tmp_path / "fetch") == 2


@pytest.mark.usefixtures("with_tally")
async def test_a_rerun_runs_the_pinned_or_the_published_version(
    world: World, tmp_path: Path
) -> None:
    name, origin = await fixed_origin(world, tmp_path)
    added = await world.user.client.post(
        f"{trees_url(world.tenant_a)}/{name}/versions",
        json={"source": rerun_tree(name, charged="v2 charged {{ results.fetch.value }}")},
    )
    assert added.status_code == 201, added.text
    unpublished = await rerun(
        world.user.client, world.tenant_a, origin, unique("pub"), version="published"
    )
    assert unpublished.status_code == 409
    publish = await world.user.client.post(
        f"{trees_url(world.tenant_a)}/{name}/publish", json={"version": 2}
    )
    assert publish.status_code == 200, publish.text

    pinned = await rerun(world.user.client, world.tenant_a, origin, unique("pinned"))
    published = await rerun(
        world.user.client, world.tenant_a, origin, unique("pub"), version="published"
    )
    assert pinned.json()["tree"]["version"] == 1
    assert published.json()["tree"]["version"] == 2
    first = await wait_until(world.user.client, pinned.json()["links"]["self"], {"completed"})
    second = await wait_until(world.user.client, published.json()["links"]["self"], {"completed"})
    assert first["output"]["charged"] == "charged refund"
    assert second["output"]["charged"] == "v2 charged refund"
    assert tally_calls(tmp_path / "fetch") == 1  # both reused the origin's fetch


@pytest.mark.usefixtures("with_tally")
async def test_bad_reruns_are_problems_naming_the_field(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, origin = await failed_origin(world, tmp_path)
    client = world.user.client
    with monkeypatch.context() as patched:
        patched.setattr(run_history, "MAX_HISTORY_PAYLOAD_BYTES", 100)
        too_long = await rerun(client, world.tenant_a, origin, unique("x"))
    assert too_long.status_code == 409
    assert too_long.json()["type"].endswith("rerun-unavailable")
    with monkeypatch.context() as patched:
        patched.setattr(reruns, "MAX_REUSED_BYTES", 10)
        too_big = await rerun(client, world.tenant_a, origin, unique("x"))
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["field"] == "body.from_node"
    unknown = await rerun(client, world.tenant_a, origin, unique("x"), from_node="nowhere")
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "body.from_node", "message": "the tree has no node 'nowhere'"}
    ]
    unreached = await rerun(client, world.tenant_a, origin, unique("x"), from_node="enrich")
    assert unreached.status_code == 422
    assert unreached.json()["errors"][0]["field"] == "body.from_node"
    assert "never reached" in unreached.json()["errors"][0]["message"]
    bad_input = await rerun(client, world.tenant_a, origin, unique("x"), inputs={"size": "big"})
    assert bad_input.status_code == 422
    assert bad_input.json()["errors"][0]["field"].startswith("body.inputs.size")
    extra = await rerun(client, world.tenant_a, origin, unique("x"), start="fetch")
    assert extra.status_code == 422

    missing = await rerun(client, world.tenant_a, "no-such-run", unique("x"))
    assert missing.status_code == 404
    # Another tenant's run is not found, not forbidden: its key says nothing there.
    outsider = await rerun(world.outsider.client, world.tenant_b, origin, unique("x"))
    assert outsider.status_code == 404
    denied = await rerun(world.read_only.client, world.tenant_a, origin, unique("x"))
    assert denied.status_code == 403

    # A rule decision leaves no event; the closed run's `progress` query shows the visit.
    (tmp_path / "broken").unlink()
    from_rule = await rerun(client, world.tenant_a, origin, unique("x"), from_node="route")
    assert from_rule.status_code == 201, from_rule.text
    done = await wait_until(client, from_rule.json()["links"]["self"], {"completed"})
    assert done["path"] == ["fetch", "approve", "route", "charge", "done"]
    assert tally_calls(tmp_path / "fetch") == 1

    # An open run is not re-run (409); a completed one needs `from_node` (422).
    key = unique("open")
    opened = await start(
        client, world.tenant_a, name, key, inputs={"dir": str(tmp_path), "topic": "t"}
    )
    url = opened.json()["links"]["self"]
    await wait_until(client, url, {"waiting_input"})
    busy = await rerun(client, world.tenant_a, key, unique("x"))
    assert busy.status_code == 409
    assert busy.json()["type"].endswith("run-open")
    await client.post(f"{url}/input", json={"value": "no"})
    await wait_until(client, url, {"completed"})
    no_node = await rerun(client, world.tenant_a, key, unique("x"))
    assert no_node.status_code == 422
    assert no_node.json()["errors"][0]["field"] == "body.from_node"
    named = await rerun(client, world.tenant_a, key, unique("x"), from_node="charge")
    assert named.status_code == 201, named.text
    done = await wait_until(client, named.json()["links"]["self"], {"completed"})
    assert done["output"]["approval"] == "no"


async def test_a_namespace_without_the_rerun_attribute_answers_503_not_500(
    world: World,
    make_settings: Callable[..., Settings],
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    registry: ToolRegistry,
    tmp_path: Path,
) -> None:
    """A namespace set up before re-runs existed (every attribute but `RerunOf`)."""
    older = DevServer(
        port=free_port(), ui_port=None, log_file=tmp_path / "log", register_search_attributes=False
    )
    with older.running():
        settings = TemporalSettings(address=older.address, task_queue="older")
        client = await Client.connect(**settings.connect_kwargs())
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=settings.namespace,
                search_attributes={
                    key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                    for key in ALL_KEYS
                    if key is not RERUN_OF
                },
            )
        )
        app = await start_app(make_settings(temporal=settings))
        async with (
            ToolHost(registry).running() as host,
            build_worker(client, WorkerSettings(graceful_shutdown_seconds=1), "older", host),
            client_for(app, world.user.token) as user,
        ):
            name = unique("older")
            await create(user, world.tenant_a, tree_source(name))
            key = unique("older-run")
            started = await start(user, world.tenant_a, name, key)
            assert started.status_code == 201, started.text
            await wait_until(user, started.json()["links"]["self"], {"completed"})
            refused = await rerun(user, world.tenant_a, key, unique("x"), from_node="done")
            assert refused.status_code == 503
            assert refused.json()["type"].endswith("temporal-setup-needed")
            assert "treeflow temporal-setup" in refused.json()["detail"]
