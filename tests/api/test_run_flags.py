"""Flags at the API's run start: tool gates per tenant and gradual rollout of a new version."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from temporalio.client import Client

from api.db.models import Role
from api.settings import Settings
from foundation.flags.rollout import rollout_flag
from foundation.flags.settings import FlagSettings
from tests.api.conftest import create_actor, create_tenant
from tests.api.test_runs import start, wait_until
from tests.api.test_trees import create, tree_source, trees_url, unique
from workflows import search_attributes


def only_for(name: str, tenants: list[str], *, enabled: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "type": "release",
        "enabled": enabled,
        "strategies": [
            {
                "name": "default",
                "parameters": {},
                "constraints": [{"contextName": "tenantId", "operator": "IN", "values": tenants}],
            }
        ],
    }


async def test_rollout_routes_runs_to_the_new_version_and_tool_flags_refuse_trees(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    client: Client,
    tmp_path: Path,
) -> None:
    tree = unique("rollout")
    bootstrap = await start_app(make_settings())
    canary = str(await create_tenant(bootstrap.state.services, "canary"))
    flags_file = tmp_path / "flags.json"
    flags_file.write_text(
        json.dumps(
            {
                "version": 2,
                "features": [
                    only_for(rollout_flag(tree), [canary]),
                    only_for("tool.summarize", [str(uuid.uuid4())]),  # nobody here may use it
                ],
            }
        )
    )
    app = await start_app(
        make_settings(flags=FlagSettings(file=flags_file, cache_dir=tmp_path / "cache"))
    )
    services = app.state.services
    canary_id = uuid.UUID(canary)
    other_id = await create_tenant(services, "steady")
    people = {
        t: await create_actor(app, f"runner-{i}", {t: Role.ADMIN})
        for i, t in enumerate((canary_id, other_id))
    }
    for tenant, actor in people.items():
        await create(actor.client, tenant, tree_source(tree, "v1 says hi"))
        url = f"{trees_url(tenant)}/{tree}"
        await actor.client.post(f"{url}/publish", json={"version": 1})
        newer = await actor.client.post(
            f"{url}/versions", json={"source": tree_source(tree, "v2!")}
        )
        assert newer.json()["version"] == 2  # newest, not published: the rollout candidate

    outputs: dict[uuid.UUID, Any] = {}
    for tenant, actor in people.items():
        response = await start(actor.client, tenant, tree, f"k-{uuid.uuid4().hex[:8]}")
        assert response.status_code == 201, response.text
        view = await wait_until(actor.client, response.json()["links"]["self"], {"completed"})
        outputs[tenant] = (view["tree"]["version"], view["output"], view["workflow_id"])
    assert outputs[canary_id][:2] == (2, {"text": "v2!"})
    assert outputs[other_id][:2] == (1, {"text": "v1 says hi"})

    described = await client.get_workflow_handle(outputs[canary_id][2]).describe()
    memo = await described.memo()
    assert memo["rollout"] == {"flag": rollout_flag(tree), "arm": "candidate", "version": "2"}
    assert described.typed_search_attributes.get(search_attributes.TREE_ROLLOUT) == "candidate"
    steady = await client.get_workflow_handle(outputs[other_id][2]).describe()
    assert (await steady.memo())["rollout"]["arm"] == "stable"

    pinned = await start(
        people[canary_id].client, canary_id, tree, f"k-{uuid.uuid4().hex[:8]}", version=1
    )
    assert pinned.json()["tree"]["version"] == 1  # an explicit version is never rerouted

    gated = unique("gated")
    actor = people[other_id]
    await create(
        actor.client,
        other_id,
        tree_source(gated, tool="summarize@^1").replace(
            "text: Hello!", "text: Hello!\n      max_sentences: 1"
        ),
    )
    refused = await start(actor.client, other_id, gated, f"k-{uuid.uuid4().hex[:8]}")
    assert refused.status_code == 422, refused.text
    error = refused.json()["errors"][0]
    assert error["field"] == "tree.nodes.greet.tool"
    assert "flag tool.summarize" in error["message"]
    for person in people.values():
        await person.client.aclose()
