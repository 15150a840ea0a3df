"""A tree's rollout state over the API: readable by any member, measured like run starts."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from api.db.models import Role
from api.settings import Settings
from foundation.flags.rollout import rollout_flag
from foundation.flags.settings import FlagSettings
from tests.api.conftest import create_actor, create_tenant
from tests.api.test_trees import create, tree_source, trees_url, unique


def percent_rollout(name: str, tenant: str, percent: int) -> dict[str, Any]:
    """A flag sending `percent` of run keys of one tenant to the candidate."""
    return {
        "name": name,
        "type": "release",
        "enabled": True,
        "strategies": [
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": str(percent), "stickiness": "sessionId", "groupId": name},
                "constraints": [{"contextName": "tenantId", "operator": "IN", "values": [tenant]}],
            }
        ],
    }


async def test_rollout_state_reports_the_flag_candidate_and_share(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    rolled, plain = unique("rolled"), unique("plain")
    bootstrap = await start_app(make_settings())
    tenant = await create_tenant(bootstrap.state.services, "rollout-state")
    flags_file = tmp_path / "flags.json"
    flags_file.write_text(
        json.dumps(
            {"version": 2, "features": [percent_rollout(rollout_flag(rolled), str(tenant), 50)]}
        )
    )
    app = await start_app(
        make_settings(flags=FlagSettings(file=flags_file, cache_dir=tmp_path / "cache"))
    )
    editor = await create_actor(app, "rollout-editor", {tenant: Role.USER})
    reader = await create_actor(app, "rollout-reader", {tenant: Role.READ_ONLY})
    for name in (rolled, plain):
        await create(editor.client, tenant, tree_source(name, "v1"))
    url = f"{trees_url(tenant)}/{rolled}"

    unpublished = (await reader.client.get(f"{url}/rollout")).json()
    assert unpublished["defined"] is True
    assert (unpublished["stable_version"], unpublished["candidate_version"]) == (None, None)

    await editor.client.post(f"{url}/publish", json={"version": 1})
    await editor.client.post(f"{url}/versions", json={"source": tree_source(rolled, "v2")})
    state = (await reader.client.get(f"{url}/rollout")).json()
    assert state["flag"] == f"tree.{rolled}.rollout"
    assert (state["stable_version"], state["candidate_version"]) == (1, 2)
    assert 0.3 < state["candidate_share"] < 0.7  # half the run keys, by sticky hashing

    await editor.client.post(f"{url}/publish", json={"version": 2})
    caught_up = (await reader.client.get(f"{url}/rollout")).json()
    assert (caught_up["candidate_version"], caught_up["candidate_share"]) == (None, 0.0)

    no_flag = await reader.client.get(f"{trees_url(tenant)}/{plain}/rollout")
    assert no_flag.status_code == 200
    assert no_flag.json()["defined"] is False

    missing = await reader.client.get(f"{trees_url(tenant)}/{unique('nosuch')}/rollout")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    bad = await reader.client.get(f"{trees_url(tenant)}/Not%20A%20Name/rollout")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "path.name"
    for actor in (editor, reader):
        await actor.client.aclose()
