"""The API enforces the tree limits of `workflows.limits` like the CLI: hostile trees,
bodies and run inputs answer 422 problem+json naming the field, never 500 or a hang."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import World
from tests.api.test_runs import runs_url, start
from tests.api.test_trees import create, tree_source, trees_url, unique
from workflows import limits

pytestmark = pytest.mark.timeout(120)  # an expansion or a hang fails the test, not the suite


def fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text[:2000]
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def alias_bomb(name: str) -> str:
    lines = [f"name: {name}", "start: e", "state:", '  l0: &l0 ["' + "x" * 10 + '"]']
    for level in range(1, 10):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join([*lines, "nodes:", "  e: {kind: end}", ""])


def nested_subtrees(name: str, depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "leaf", "start": "e", "nodes": {"e": {"kind": "end"}}}
    for level in range(depth):
        spec = {
            "name": name if level == depth - 1 else f"t{level}",
            "start": "s",
            "nodes": {"s": {"kind": "subtree", "spec": spec, "next": "e"}, "e": {"kind": "end"}},
        }
    return spec


async def post_raw(
    client: httpx.AsyncClient, url: str, body: str, **headers: str
) -> httpx.Response:
    return await client.post(
        url, content=body.encode(), headers={"content-type": "application/json", **headers}
    )


async def test_an_alias_bomb_is_refused_with_its_path(world: World) -> None:
    response = await world.user.client.post(
        trees_url(world.tenant_a), json={"source": alias_bomb(unique())}
    )
    found = fields(response)
    (field,) = found
    assert field.startswith("body.source.state.l")
    assert f"more than {limits.MAX_DOCUMENT_VALUES} values" in found[field]


async def test_nested_subtrees_are_accepted_and_stored_once(world: World) -> None:
    name = unique()
    response = await world.user.client.post(
        trees_url(world.tenant_a), json={"spec": nested_subtrees(name, 18)}
    )
    assert response.status_code == 201, response.text[:2000]
    too_deep = nested_subtrees(unique(), limits.MAX_SUBTREE_DEPTH + 1)
    refused = fields(
        await world.user.client.post(trees_url(world.tenant_a), json={"spec": too_deep})
    )
    assert any(f"nested deeper than {limits.MAX_SUBTREE_DEPTH}" in m for m in refused.values())


@pytest.mark.parametrize("depth", [150, 50_000])
async def test_deep_bodies_are_refused_before_parsing_recurses(world: World, depth: int) -> None:
    spec = json.dumps({"name": unique(), "start": "e", "nodes": {"e": {"kind": "end"}}})
    body = '{"spec": ' + spec[:-1] + ', "state": {"x": ' + "[" * depth + "]" * depth + "}}}"
    found = fields(await post_raw(world.user.client, trees_url(world.tenant_a), body))
    (field,) = found
    assert f"nested deeper than {limits.MAX_NESTING_DEPTH} levels" in found[field]
    if depth < 1000:  # past Python's own recursion guard only the body as a whole is named
        assert field.startswith("body.spec.state.x.0.0")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_numbers_in_any_body_are_refused(world: World, literal: str) -> None:
    spec = {"name": unique(), "start": "e", "nodes": {"e": {"kind": "end", "output": {"x": 0}}}}
    body = json.dumps({"spec": spec}).replace('"x": 0', f'"x": {literal}')
    found = fields(await post_raw(world.user.client, trees_url(world.tenant_a), body))
    assert list(found) == ["body.spec.nodes.e.output.x"]
    assert "not a finite number" in found["body.spec.nodes.e.output.x"]
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    run_body = json.dumps({"tree": name, "inputs": {"q": [1, 0]}}).replace("0]", f"{literal}]")
    found = fields(
        await post_raw(
            world.user.client, runs_url(world.tenant_a), run_body, **{"Idempotency-Key": unique()}
        )
    )
    assert list(found) == ["body.inputs.q.1"]
    instantiate = f"/v1/tenants/{world.tenant_a}/templates/ticket-qa/instantiate"
    body = '{"tree_name": "' + unique() + '", "input_defaults": {"question": ' + literal + "}}"
    assert list(fields(await post_raw(world.user.client, instantiate, body))) == [
        "body.input_defaults.question"
    ]


@pytest.mark.parametrize("version", [2**70, 10**30])
async def test_huge_version_numbers_are_422(world: World, version: int) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    client = world.user.client
    started = await start(client, world.tenant_a, name, unique(), version=version)
    assert list(fields(started)) == ["body.version"]
    published = await client.post(
        f"{trees_url(world.tenant_a)}/{name}/publish", json={"version": version}
    )
    assert list(fields(published)) == ["body.version"]
    got = await client.get(f"{trees_url(world.tenant_a)}/{name}/versions/{version}")
    assert list(fields(got)) == ["path.version"]
    diff = await client.get(f"{trees_url(world.tenant_a)}/{name}/diff?from=1&to={version}")
    assert list(fields(diff)) == ["query.to"]


async def test_deep_run_inputs_are_422(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    for depth, field in [(300, "body.inputs.q.0.0"), (40, "body.inputs.q[0][0]")]:
        value: Any = 1
        for _ in range(depth):
            value = [value]
        response = await start(
            world.user.client, world.tenant_a, name, unique(), inputs={"q": value}
        )
        found = fields(response)
        (got,) = found
        assert got.startswith(field), got
        assert "nested deeper than" in found[got]


async def test_hostile_trees_name_their_paths(world: World) -> None:
    rule = "- " * 1000 + "1 > 0"
    unary = {
        "name": unique(),
        "start": "d",
        "nodes": {
            "d": {"kind": "decision", "branches": [{"to": "e", "when": rule}, {"to": "f"}]},
            "e": {"kind": "end"},
            "f": {"kind": "end"},
        },
    }
    found = fields(await world.user.client.post(trees_url(world.tenant_a), json={"spec": unary}))
    assert "nested deeper than" in found["body.source.nodes.d.branches[0].when"]
    long_id = {
        "name": unique(),
        "start": "e",
        "nodes": [{"id": "e", "kind": "end"}, {"id": "b" * 100_000, "kind": "end"}],
    }
    response = await world.user.client.post(trees_url(world.tenant_a), json={"spec": long_id})
    assert len(response.content) < 5_000
    (field,) = fields(response)
    assert field.startswith("body.source.nodes.bbbb")
    timeout = tree_source(unique()).replace("kind: tool", "kind: tool\n    timeout: 1.0e+300")
    found = fields(
        await world.user.client.post(trees_url(world.tenant_a), json={"source": timeout})
    )
    assert "at most 366d" in found["body.source.nodes.greet.timeout"]


async def test_wrong_type_input_defaults_are_refused(world: World) -> None:
    instantiate = f"/v1/tenants/{world.tenant_a}/templates/ticket-qa/instantiate"
    response = await world.user.client.post(
        instantiate, json={"tree_name": unique(), "input_defaults": {"question": 42}}
    )
    found = fields(response)
    assert any("must be of type string" in message for message in found.values()), found
