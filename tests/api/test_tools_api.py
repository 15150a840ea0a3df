"""Tools over the API: the registry with schemas, and tenants' declarative HTTP tools
registered, versioned, compiled into trees and run by the worker."""

from __future__ import annotations

from typing import Any

import yaml

from tests.api.conftest import World
from tests.api.test_runs import start, wait_until
from tests.api.test_trees import create, unique
from tests.support.http_server import http_server


def weather_tool(name: str, url: str, version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "description": "Current conditions for a city; use it for weather questions.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string", "minLength": 1}},
            "required": ["city"],
        },
        "request": {"method": "GET", "url": url, "query": {"q": "{city}"}},
        **extra,
    }


async def test_registry_lists_every_tool_with_schemas(world: World) -> None:
    tools = (await world.read_only.client.get(f"/v1/tenants/{world.tenant_a}/tools")).json()
    by_name = {t["name"]: t for t in tools["tools"]}
    summarize = by_name["summarize"]
    assert summarize["source"] == "platform"
    assert summarize["allowed"] is True
    version = summarize["versions"][0]
    assert version["activity"] == f"summarize@{version['version']}"
    assert "text" in version["input_schema"]["properties"]
    assert "summary" in version["output_schema"]["properties"]
    legacy = (
        await world.read_only.client.get(f"/v1/tenants/{world.tenant_a}/tools/llm_decision")
    ).json()
    assert any(v["deprecated"] for v in legacy["versions"])  # 1.0.0 is kept, deprecated
    missing = await world.read_only.client.get(f"/v1/tenants/{world.tenant_a}/tools/nope")
    assert missing.status_code == 404


async def test_declarative_tool_registered_compiled_and_run(world: World) -> None:
    name = unique("weather").replace("-", "_")
    tools_url = f"/v1/tenants/{world.tenant_a}/tools"
    with http_server() as server:
        definition = weather_tool(name, f"{server.url}/json")
        denied = await world.user.client.post(tools_url, json=definition)
        assert denied.status_code == 403  # registering HTTP tools is for admins
        created = await world.admin.client.post(tools_url, json=definition)
        assert created.status_code == 201, created.text
        assert created.json()["activity"] == f"{name}@1.0.0"
        again = await world.admin.client.post(tools_url, json=definition)
        assert again.status_code == 201  # identical content: idempotent
        changed = await world.admin.client.post(
            tools_url, json={**definition, "description": "Something else entirely, changed."}
        )
        assert changed.status_code == 409
        listed = (await world.read_only.client.get(f"{tools_url}/{name}")).json()
        assert listed["source"] == "tenant"
        assert listed["versions"][0]["input_schema"]["required"] == ["city"]

        tree = unique("asks-weather")
        source = yaml.safe_dump(
            {
                "name": tree,
                "start": "look",
                "nodes": {
                    "look": {
                        "kind": "tool",
                        "tool": f"{name}@^1",
                        "args": {"city": "Oslo"},
                        "next": "done",
                    },
                    "done": {"kind": "end", "output": {"answer": "{{ results.look.data }}"}},
                },
            }
        )
        version = await create(world.user.client, world.tenant_a, source)
        assert version["version"]["pins"] == {"look": f"{name}@1.0.0"}
        bad_args = source.replace("city: Oslo", "town: Oslo")
        refused = await world.user.client.post(
            f"/v1/tenants/{world.tenant_a}/trees", json={"source": bad_args.replace(tree, unique())}
        )
        assert refused.status_code == 422
        fields = [e["field"] for e in refused.json()["errors"]]
        assert "body.source.nodes.look.args.town" in fields

        view = (await start(world.user.client, world.tenant_a, tree, unique("w"))).json()
        done = await wait_until(world.user.client, view["links"]["self"], {"completed", "failed"})
        assert done["status"] == "completed", done
        assert done["output"]["answer"] == {"ok": True, "query": "q=Oslo"}
        assert server.requests[-1]["path"] == "/json?q=Oslo"

    deprecated = await world.admin.client.post(
        f"{tools_url}/{name}/versions/1.0.0/deprecate", json={"message": "use v2"}
    )
    assert deprecated.json()["deprecated"] == "use v2"
    other_tenant = await world.outsider.client.get(f"/v1/tenants/{world.tenant_b}/tools/{name}")
    assert other_tenant.status_code == 404  # tenant tools are the tenant's own


async def test_declarative_tools_outside_the_host_allow_list_are_refused(world: World) -> None:
    response = await world.admin.client.post(
        f"/v1/tenants/{world.tenant_a}/tools",
        json=weather_tool(unique("evil").replace("-", "_"), "http://example.com/steal"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].startswith("body.request.url")
