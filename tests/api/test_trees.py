"""Trees over the API: compile errors as 422 with node paths, immutable versions,
publishing, diffs, soft deletion (audited), templates and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import yaml

from tests.api.conftest import World


def tree_source(name: str, text: str = "Hello!", tool: str = "text_response@^1") -> str:
    return yaml.safe_dump(
        {
            "name": name,
            "description": "a test tree",
            "start": "greet",
            "nodes": {
                "greet": {"kind": "tool", "tool": tool, "args": {"text": text}, "next": "done"},
                "done": {"kind": "end", "output": {"text": "{{ results.greet.text }}"}},
            },
        },
        sort_keys=False,
    )


def unique(prefix: str = "tree") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def trees_url(tenant: uuid.UUID) -> str:
    return f"/v1/tenants/{tenant}/trees"


async def create(client: httpx.AsyncClient, tenant: uuid.UUID, source: str) -> dict[str, Any]:
    response = await client.post(trees_url(tenant), json={"source": source})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_compiles_and_pins(world: World) -> None:
    name = unique()
    body = await create(world.user.client, world.tenant_a, tree_source(name))
    assert body["tree"]["name"] == name
    assert body["tree"]["latest_version"] == 1
    assert body["version"]["pins"] == {"greet": "text_response@1.0.0"}
    assert len(body["version"]["hash"]) == 64


async def test_compile_errors_answer_422_with_node_paths(world: World) -> None:
    bad = tree_source(unique(), tool="nosuch@^1").replace("next: done", "next: nowhere")
    response = await world.user.client.post(trees_url(world.tenant_a), json={"source": bad})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors["body.source.nodes.greet.tool"] == "unknown tool 'nosuch'"
    assert errors["body.source.nodes.greet.next"] == "unknown node 'nowhere'"


async def test_bad_yaml_and_bad_shapes_are_422_not_500(world: World) -> None:
    for source in ["name: [unclosed", "just a string", "name: x\nstart: a\nnodes: {}"]:
        response = await world.user.client.post(trees_url(world.tenant_a), json={"source": source})
        assert response.status_code == 422, source
        assert response.json()["errors"]
    both = await world.user.client.post(
        trees_url(world.tenant_a), json={"source": "x", "spec": {"name": "x"}}
    )
    assert both.status_code == 422


async def test_trees_can_be_posted_as_json_objects(world: World) -> None:
    spec = yaml.safe_load(tree_source(unique()))
    response = await world.user.client.post(trees_url(world.tenant_a), json={"spec": spec})
    assert response.status_code == 201


async def test_versions_are_immutable_and_identical_edits_change_nothing(world: World) -> None:
    name = unique()
    client = world.user.client
    await create(client, world.tenant_a, tree_source(name))
    url = f"{trees_url(world.tenant_a)}/{name}"
    same = await client.post(f"{url}/versions", json={"source": tree_source(name)})
    assert same.status_code == 200
    assert same.json()["version"] == 1
    changed = await client.post(f"{url}/versions", json={"source": tree_source(name, "Hi!")})
    assert changed.status_code == 201
    assert changed.json()["version"] == 2
    v1 = (await client.get(f"{url}/versions/1")).json()
    assert "Hello!" in v1["source"]
    assert v1["hash"] != changed.json()["hash"]
    renamed = await client.post(f"{url}/versions", json={"source": tree_source(unique())})
    assert renamed.status_code == 422
    assert renamed.json()["errors"][0]["field"] == "body.source.name"
    listed = (await client.get(f"{url}/versions")).json()["versions"]
    assert [v["version"] for v in listed] == [1, 2]


async def test_diff_shows_meaning_and_text(world: World) -> None:
    name = unique()
    client = world.user.client
    await create(client, world.tenant_a, tree_source(name))
    url = f"{trees_url(world.tenant_a)}/{name}"
    await client.post(f"{url}/versions", json={"source": tree_source(name, "Changed!")})
    diff = (await client.get(f"{url}/diff", params={"from": 1, "to": 2})).json()
    assert diff["hash_changed"] is True
    assert diff["nodes_changed"] == ["greet"]
    assert diff["nodes_added"] == []
    lines = diff["unified_diff"].splitlines()
    assert any(line.startswith("-") and "Hello!" in line for line in lines)
    assert any(line.startswith("+") and "Changed!" in line for line in lines)


async def test_publish_selects_the_version_and_needs_the_right_role(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    url = f"{trees_url(world.tenant_a)}/{name}/publish"
    denied = await world.read_only.client.post(url, json={"version": 1})
    assert denied.status_code == 403
    published = await world.user.client.post(url, json={"version": 1})
    assert published.json()["published_version"] == 1
    missing = await world.user.client.post(url, json={"version": 9})
    assert missing.status_code == 404


async def test_soft_delete_hides_the_tree_keeps_the_name_free_and_is_audited(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    url = f"{trees_url(world.tenant_a)}/{name}"
    assert (await world.user.client.delete(url)).status_code == 403  # admins only
    assert (await world.admin.client.delete(url)).status_code == 204
    assert (await world.user.client.get(url)).status_code == 404
    names = [
        t["name"] for t in (await world.user.client.get(trees_url(world.tenant_a))).json()["trees"]
    ]
    assert name not in names
    await create(world.user.client, world.tenant_a, tree_source(name))  # the name is free again
    audit = await world.admin.client.get(f"/v1/tenants/{world.tenant_a}/audit")
    events = [e for e in audit.json()["events"] if e.get("target") == name]
    assert any(e["method"] == "DELETE" and e["status_code"] == 204 for e in events)


async def test_duplicate_names_conflict(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    again = await world.user.client.post(
        trees_url(world.tenant_a), json={"source": tree_source(name)}
    )
    assert again.status_code == 409


async def test_other_tenants_trees_are_invisible(world: World) -> None:
    name = unique()
    await create(world.user.client, world.tenant_a, tree_source(name))
    outsider = world.outsider.client
    assert (await outsider.get(f"{trees_url(world.tenant_a)}/{name}")).status_code == 404
    assert (await outsider.get(trees_url(world.tenant_a))).status_code == 404
    own = (await outsider.get(trees_url(world.tenant_b))).json()["trees"]
    assert name not in [t["name"] for t in own]
    assert (await outsider.get(f"{trees_url(world.tenant_b)}/{name}")).status_code == 404


async def test_allowed_tools_limit_what_a_tenant_can_compile(world: World) -> None:
    settings_url = f"/v1/tenants/{world.tenant_b}/settings"
    outsider = world.outsider.client
    current = (await outsider.get(settings_url)).json()
    await outsider.put(settings_url, json={**current, "allowed_tools": ["summarize"]})
    try:
        response = await outsider.post(
            trees_url(world.tenant_b), json={"source": tree_source(unique())}
        )
        assert response.status_code == 422
        errors = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert errors["body.source.nodes.greet.tool"] == "unknown tool 'text_response'"
    finally:
        await outsider.put(settings_url, json={**current, "allowed_tools": None})


async def test_templates_are_listed_and_instantiated_with_parameters(world: World) -> None:
    client = world.user.client
    listed = (await client.get(f"/v1/tenants/{world.tenant_a}/templates")).json()["templates"]
    names = {t["name"] for t in listed}
    assert {"support-triage", "document-digest", "incident-review"} <= names
    name = unique("triage")
    response = await client.post(
        f"/v1/tenants/{world.tenant_a}/templates/support-triage/instantiate",
        json={"tree_name": name, "input_defaults": {"customer": "friend"}},
    )
    assert response.status_code == 201, response.text
    assert response.json()["tree"]["published_version"] == 1
    version = (await client.get(f"{trees_url(world.tenant_a)}/{name}/versions/1")).json()
    assert yaml.safe_load(version["source"])["inputs"]["customer"]["default"] == "friend"
    bad = await client.post(
        f"/v1/tenants/{world.tenant_a}/templates/support-triage/instantiate",
        json={"tree_name": unique(), "input_defaults": {"colour": "red"}},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.input_defaults.colour"
    missing = await client.post(f"/v1/tenants/{world.tenant_a}/templates/nope/instantiate", json={})
    assert missing.status_code == 404


async def test_template_with_a_subtree_resolves_it(world: World) -> None:
    response = await world.user.client.post(
        f"/v1/tenants/{world.tenant_a}/templates/incident-review/instantiate",
        json={"tree_name": unique("incident")},
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"]["pins"]["impact"] == "summarize@1.0.0"
