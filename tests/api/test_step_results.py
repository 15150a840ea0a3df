"""A step's whole result (`GET .../runs/{key}/steps/{step}/result`), where step records
and events keep a 2048-byte preview: the search a chat turn cites, the chart it drew."""

from __future__ import annotations

import json

from tests.api.conftest import World
from tests.api.test_conversations import conversations_url, say, ticket_agent


async def test_a_turns_search_and_chart_are_read_whole(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    created = await client.post(conversations_url(tenant), json={"tree": await ticket_agent(world)})
    conversation = created.json()["id"]
    for question in ("How many billing tickets are open?", "And which of those mention refunds?"):
        assert (await say(client, tenant, conversation, question)).status_code == 200
    run = f"/v1/tenants/{tenant}/runs/{conversation}.2"
    steps = (await world.read_only.client.get(f"{run}/steps")).json()["steps"]
    search = next(s for s in steps if s["node"] == "search")
    assert search["result"]["truncated"] is True  # the preview is a prefix of its JSON

    whole = await world.read_only.client.get(f"{run}/steps/{search['id']}/result")
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert (body["step"], body["node"], body["activity"]) == (search["id"], "search", "query@1.0.0")
    objects = body["result"]["objects"]
    assert [o["properties"]["ticket_id"] for o in objects][:2] == ["TCK-000279", "TCK-000057"]
    assert len(json.dumps(body["result"])) > search["result"]["size"] - 100
    assert all(o["properties"]["category"] == "billing" for o in objects)


async def test_steps_without_a_result_and_bad_ids_are_problems(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    created = await client.post(
        conversations_url(tenant),
        json={"tree": await ticket_agent(world), "message": "How many billing tickets are open?"},
    )
    run = f"/v1/tenants/{tenant}/runs/{created.json()['message']['run']}"
    steps = (await client.get(f"{run}/steps")).json()["steps"]
    end = next(s for s in steps if s["kind"] == "end")
    no_result = await client.get(f"{run}/steps/{end['id']}/result")
    assert no_result.status_code == 404
    assert no_result.headers["content-type"] == "application/problem+json"
    assert "no tool result" in no_result.json()["detail"]
    missing = await client.get(f"{run}/steps/99999/result")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "step not found"
    bad = await client.get(f"{run}/steps/zero/result")
    assert bad.status_code == 422
    assert any("step" in e["field"] for e in bad.json()["errors"])
    other_run = await client.get(f"/v1/tenants/{tenant}/runs/nope/steps/1/result")
    assert other_run.status_code == 404
    outsider = await world.outsider.client.get(f"{run}/steps/1/result")
    assert outsider.status_code == 404
