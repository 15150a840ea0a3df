"""The new tools inside real runs: LLM-written arguments (agent_args), self-healing from
tool errors, and tenants' declarative HTTP tools executed by the worker's dynamic activity."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import load_demo
from activities.declarative import InMemoryToolStore, TenantToolCatalog, register
from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from tests.support.http_server import _Server, http_server
from tests.support.temporal_fixtures import RunTree, StartTree
from tests.workflows.test_interpreter import events_of, failure_message, scheduled_activities
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.compiler import CompileError, compile_tree
from workflows.search_attributes import RUN_STATUS
from workflows.tool_routing import WAITING_STATUS

QUEUE = "tests-tools"
Q_LOCKED = "Why do users get locked out of their accounts?"
Q_HEAL = "Which urgent tickets mention refunds?"
Q_TEMPLATED = "Search where the tree says, please"
Q_TEMPLATED_WRITES = "Search where the tree says, two at most"

SEARCH_OK = "node search (tool, query@1.0.0) ok"
RULES: list[dict[str, Any]] = [
    {"contains": [Q_TEMPLATED, SEARCH_OK], "reply": {"reasoning": "done", "choice": "answer"}},
    {"contains": [Q_TEMPLATED_WRITES, SEARCH_OK], "reply": {"reasoning": "ok", "choice": "answer"}},
    {"contains": [Q_TEMPLATED], "reply": {"reasoning": "as configured", "choice": "search"}},
    {
        "contains": [Q_TEMPLATED_WRITES],
        "reply": {"reasoning": "two", "choice": "search", "args": {"query": "login", "limit": 2}},
    },
    {"contains": [Q_LOCKED, SEARCH_OK], "reply": {"reasoning": "enough", "choice": "answer"}},
    {
        "contains": [Q_LOCKED],
        "reply": {
            "reasoning": "search lockouts",
            "choice": "search",
            "args": {"query": "account locked after failed login", "limit": 2},
        },
    },
    {"contains": [Q_HEAL, SEARCH_OK], "reply": {"reasoning": "found them", "choice": "answer"}},
    {
        "contains": [Q_HEAL, "Unknown property 'colour'"],
        "reply": {
            "reasoning": "fix the filter",
            "choice": "search",
            "args": {
                "query": "refund",
                "filters": {"property": "priority", "operator": "eq", "value": "urgent"},
            },
        },
    },
    {
        "contains": [Q_HEAL],
        "reply": {
            "reasoning": "filter by colour",
            "choice": "search",
            "args": {
                "query": "refund",
                "filters": {"property": "colour", "operator": "eq", "value": "red"},
            },
        },
    },
]


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    with http_server() as running:
        yield running


@pytest.fixture(scope="module")
async def tools_queue(
    client: Client, registry: ToolRegistry, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A worker whose tools use a store with the demo data and the scripted model."""
    path = tmp_path_factory.mktemp("runs") / "store"
    loader = EmbeddedBackend(path)
    await load_demo(loader)
    await loader.close()
    config: dict[str, dict[str, Any]] = {
        "defaults": {"retrieval": {"kind": "embedded", "path": str(path)}},
        "llm_decision": {"llm": {"provider": "scripted", "script": RULES}},
        "declarative_http": {"allowed_hosts": ["127.0.0.1"]},
    }
    async with (
        ToolHost(registry, config=config).running() as host,
        build_worker(client, WorkerSettings(), QUEUE, host),
    ):
        yield QUEUE


def agent_tree(max_passes: int = 3) -> dict[str, Any]:
    return {
        "name": "agent-args",
        "inputs": {"question": {"type": "string"}},
        "start": "decide",
        "nodes": {
            "decide": {
                "kind": "decision",
                "strategy": "llm",
                "instruction": "Answer from the support tickets.",
                "max_passes": max_passes,
                "on_limit": "answer",
                "branches": [
                    {"id": "search", "to": "search", "description": "search the tickets"},
                    {"id": "answer", "to": "answer", "requires": ["search"]},
                ],
            },
            "search": {
                "kind": "tool",
                "tool": "query@^1",
                "args": {"collection": "SupportTickets", "limit": 4},
                "agent_args": ["query", "filters", "limit"],
                "on_error": "decide",
                "next": "decide",
            },
            "answer": {
                "kind": "tool",
                "tool": "cited_summarize@^1",
                "args": {
                    "question": "{{ inputs.question }}",
                    "objects": "{{ results.search.objects }}",
                    "text_properties": ["title", "body"],
                },
                "next": "done",
            },
            "done": {
                "kind": "end",
                "output": {
                    "answer": "{{ results.answer.summary }}",
                    "query": "{{ results.search.query }}",
                    "found": "{{ results.search.count }}",
                    "priorities": (
                        "{{ pluck(pluck(results.search.objects, 'properties'), 'priority') }}"
                    ),
                    "tokens": "{{ results.decide.usage.total_tokens }}",
                },
            },
        },
    }


async def test_the_agent_writes_the_query_arguments(run_tree: RunTree, tools_queue: str) -> None:
    run = await run_tree(agent_tree(), {"question": Q_LOCKED}, task_queue=tools_queue)
    out = run.result.output
    assert run.result.path == ["decide", "search", "decide", "answer", "done"]
    assert out["query"] == "account locked after failed login"  # written by the agent
    assert out["found"] == 2  # the agent's limit over the node's 4
    assert "[1]" in out["answer"]
    assert out["tokens"] > 0
    activities = scheduled_activities(await events_of(run.handle))
    assert activities == [
        "llm_decision@2.0.0",
        "query@1.0.0",
        "llm_decision@2.0.0",
        "cited_summarize@1.0.0",
    ]


async def test_the_agent_sees_a_tool_error_and_fixes_its_arguments(
    run_tree: RunTree, tools_queue: str
) -> None:
    run = await run_tree(agent_tree(max_passes=4), {"question": Q_HEAL}, task_queue=tools_queue)
    assert run.result.path == ["decide", "search", "decide", "search", "decide", "answer", "done"]
    assert "Unknown property 'colour'" in run.result.errors["query"][0]
    assert set(run.result.output["priorities"]) == {"urgent"}
    assert run.result.output["query"] == "refund"


@pytest.mark.parametrize(
    ("question", "found"), [(Q_TEMPLATED, 4), (Q_TEMPLATED_WRITES, 2)], ids=["none", "some"]
)
async def test_an_llm_decision_routes_to_a_node_whose_required_argument_is_templated(
    run_tree: RunTree, tools_queue: str, question: str, found: int
) -> None:
    doc = agent_tree()
    doc["inputs"] |= {"collection": {"type": "string"}, "topic": {"type": "string"}}
    doc["nodes"]["search"]["args"] = {
        "collection": "{{ inputs.collection }}",  # required by query@1
        "query": "{{ inputs.topic }}",  # required by query@1 in hybrid mode
        "limit": 4,
    }
    inputs = {"question": question, "collection": "SupportTickets", "topic": "locked account"}
    run = await run_tree(doc, inputs, task_queue=tools_queue)
    assert run.result.path == ["decide", "search", "decide", "answer", "done"]
    assert run.result.output["found"] == found


def test_agent_args_must_name_arguments_of_the_tool(registry: ToolRegistry) -> None:
    doc = agent_tree()
    doc["nodes"]["search"]["agent_args"] = ["query", "colour"]
    with pytest.raises(
        CompileError, match=r"nodes\.search\.agent_args: 'colour' is not an argument"
    ):
        compile_tree(doc, registry)


def test_required_arguments_may_be_left_to_the_agent(registry: ToolRegistry) -> None:
    doc = agent_tree()
    doc["nodes"]["search"]["args"] = {}
    doc["nodes"]["search"]["agent_args"] = True
    compile_tree(doc, registry)  # `collection` is required but the agent writes it
    doc["nodes"]["search"]["agent_args"] = False
    with pytest.raises(CompileError, match=r"nodes\.search\.args\.collection: Field required"):
        compile_tree(doc, registry)


# ------------------------------------------------------------------ declarative tools


def lookup_definition(host: str, port: int, version: str = "1.0.0") -> dict[str, Any]:
    return {
        "name": "lookup",
        "version": version,
        "description": "Look a term up in the test service's JSON endpoint.",
        "input_schema": {
            "properties": {"term": {"type": "string", "minLength": 1}},
            "required": ["term"],
        },
        "request": {"url": f"http://{host}:{port}/json", "query": {"q": "{term}"}},
        "result_path": "query",
    }


def lookup_tree() -> dict[str, Any]:
    return {
        "name": "declarative",
        "start": "call",
        "nodes": {
            "call": {
                "kind": "tool",
                "tool": "lookup@^1",
                "args": {"term": "hello world"},
                "retry": {"max_attempts": 2, "initial_interval": 0.1},
                "next": "done",
            },
            "done": {"kind": "end", "output": {"data": "{{ tools.lookup.data }}"}},
        },
    }


async def tenant_catalog(registry: ToolRegistry, definition: dict[str, Any]) -> TenantToolCatalog:
    store = InMemoryToolStore()
    await register(
        store,
        "tests",
        definition,
        allowed_hosts=["127.0.0.1", "localhost"],
        reserved_names=registry.names(),
    )
    return await TenantToolCatalog.for_tenant(registry, store, "tests")


async def test_a_declarative_tool_runs_from_the_compiled_tree(
    run_tree: RunTree, registry: ToolRegistry, tools_queue: str, server: _Server
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    catalog = await tenant_catalog(registry, lookup_definition("127.0.0.1", port))
    compiled = compile_tree(lookup_tree(), catalog)
    assert compiled.spec.nodes["call"].tool == "lookup@1.0.0"  # type: ignore[union-attr]
    assert set(compiled.declarative_tools) == {"lookup@1.0.0"}
    run = await run_tree(compiled, task_queue=tools_queue)
    assert run.result.output == {"data": "q=hello+world"}
    assert scheduled_activities(await events_of(run.handle)) == ["lookup@1.0.0"]


def with_limit(definition: dict[str, Any]) -> dict[str, Any]:
    definition["input_schema"]["properties"]["limit"] = {"type": "integer"}
    return definition


def test_declarative_arguments_are_checked_as_json_schema_when_compiling(
    registry: ToolRegistry,
) -> None:
    catalog = asyncio.run(tenant_catalog(registry, with_limit(lookup_definition("127.0.0.1", 1))))
    doc = lookup_tree()
    doc["nodes"]["call"]["args"] |= {"limit": "5"}  # a string is not an integer: no coercion
    with pytest.raises(CompileError, match=r"nodes\.call\.args\.limit: expected integer, got str"):
        compile_tree(doc, catalog)


async def test_declarative_arguments_rendered_at_run_time_are_checked_by_the_worker(
    start_tree: StartTree, registry: ToolRegistry, tools_queue: str, server: _Server
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    catalog = await tenant_catalog(registry, with_limit(lookup_definition("127.0.0.1", port)))
    doc = lookup_tree() | {"inputs": {"limit": {"type": "any"}}}
    doc["nodes"]["call"]["args"] |= {"limit": "{{ inputs.limit }}"}
    handle = await start_tree(compile_tree(doc, catalog), {"limit": "5"}, task_queue=tools_queue)
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    message = failure_message(info.value)
    assert "lookup@1.0.0: invalid args: args.limit: expected integer, got str" in message


def test_the_definition_is_part_of_the_tree_hash(registry: ToolRegistry) -> None:
    import asyncio

    first = asyncio.run(tenant_catalog(registry, lookup_definition("127.0.0.1", 1)))
    second = asyncio.run(tenant_catalog(registry, lookup_definition("127.0.0.1", 2)))
    assert compile_tree(lookup_tree(), first).hash != compile_tree(lookup_tree(), second).hash


async def test_the_worker_allow_list_still_applies(
    start_tree: StartTree, registry: ToolRegistry, tools_queue: str, server: _Server
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    catalog = await tenant_catalog(registry, lookup_definition("localhost", port))
    handle = await start_tree(compile_tree(lookup_tree(), catalog), task_queue=tools_queue)
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    assert "host 'localhost' is not in the http_request allow-list" in failure_message(info.value)


async def test_a_tool_without_a_carried_definition_waits_for_a_worker_hosting_it(
    start_tree: StartTree, registry: ToolRegistry, tools_queue: str, server: _Server
) -> None:
    """No worker hosts it: the run waits on the version's queue instead of failing."""
    port = int(server.url.rsplit(":", 1)[1])
    catalog = await tenant_catalog(registry, lookup_definition("127.0.0.1", port))
    stripped = compile_tree(lookup_tree(), catalog).model_copy(update={"declarative_tools": {}})
    handle = await start_tree(stripped, task_queue=tools_queue)
    for _ in range(150):
        description = await handle.describe()
        if description.typed_search_attributes.get(RUN_STATUS) == WAITING_STATUS:
            break
        await asyncio.sleep(0.1)
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert description.typed_search_attributes.get(RUN_STATUS) == WAITING_STATUS
    failed = [
        e.activity_task_failed_event_attributes.failure
        for e in await events_of(handle)
        if e.HasField("activity_task_failed_event_attributes")
    ]
    assert [f.application_failure_info.type for f in failed] == ["ToolNotRegistered"]
    assert "no tool lookup@1.0.0 is registered on this worker" in failed[0].message
    await handle.terminate("test over")
