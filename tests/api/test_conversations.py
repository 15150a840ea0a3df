"""Conversations over the API, on the real Temporal dev server and the session worker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import yaml

import templates
from tests.api.conftest import World
from tests.api.test_runs import one_open_run_allowed, start
from tests.api.test_trees import create, unique
from tests.support.trees import end, tool_node, yes_no


def conversations_url(tenant: uuid.UUID) -> str:
    return f"/v1/tenants/{tenant}/conversations"


ECHO = {
    "description": "echo each message with what the conversation showed it",
    "inputs": {"message": {"type": "string"}},
    "start": "reply",
    "nodes": {
        "reply": tool_node(
            "text_response@^1",
            {
                "text": "{{ 'turn ' + str(conversation.turn) + ': ' + inputs.message"
                " + ' | before: ' + join(pluck(conversation.turns, 'message'), '; ') }}"
            },
            next="done",
        ),
        "done": end({"text": "{{ results.reply.text }}"}),
    },
}

CONFIRM = {
    "description": "a turn that waits for a confirmation",
    "inputs": {"message": {"type": "string"}},
    "start": "ask",
    "nodes": {
        "ask": yes_no("Sure about {{ inputs.message }}?", "done"),
        "done": {"kind": "end", "output": {"text": "{{ inputs.message + ': ' + state.answer }}"}},
    },
}


async def tree(world: World, body: dict[str, Any], prefix: str) -> str:
    name = unique(prefix)
    await create(world.user.client, world.tenant_a, yaml.safe_dump({"name": name, **body}))
    return name


async def ticket_agent(world: World) -> str:
    name = unique("tickets")
    text = templates.load("ticket-agent").text.replace("name: ticket-agent", f"name: {name}", 1)
    await create(world.user.client, world.tenant_a, text)
    return name


async def new_conversation(client: httpx.AsyncClient, tenant: uuid.UUID, tree_name: str) -> str:
    response = await client.post(conversations_url(tenant), json={"tree": tree_name})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == response.json()["links"]["self"]
    conversation_id: str = response.json()["id"]
    return conversation_id


async def say(
    client: httpx.AsyncClient, tenant: uuid.UUID, conversation: str, text: str, **params: Any
) -> httpx.Response:
    return await client.post(
        f"{conversations_url(tenant)}/{conversation}/messages", json={"text": text}, params=params
    )


async def test_a_conversation_of_three_turns_answers_from_the_earlier_turns(
    world: World,
) -> None:
    client, tenant = world.user.client, world.tenant_a
    conversation = await new_conversation(client, tenant, await ticket_agent(world))
    questions = [
        "How many billing tickets are open?",
        "And which of those mention refunds?",
        "Chart how many urgent tickets each product has.",
    ]
    answers = []
    for question in questions:
        response = await say(client, tenant, conversation, question)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert [a["turn"] for a in answers] == [1, 2, 3]
    assert "12 tickets match" in answers[0]["answer"]["answer"]
    # the follow-up searched only the first turn's ticket set (open billing tickets)
    assert answers[1]["answer"]["answer"].endswith(
        "Tickets: TCK-000279, TCK-000057, TCK-000091, TCK-000235, TCK-000019, TCK-000289, "
        "TCK-000143."
    )
    assert answers[1]["path"][:2] == ["decide", "search"]
    assert "Most tickets: Atlas CRM (11)" in answers[2]["answer"]["answer"]
    assert answers[2]["answer"]["chart"] == "image/svg+xml"

    # every turn is a run the run routes serve
    first = answers[0]
    assert first["run"] == f"{conversation}.1"
    assert first["links"]["events"] == f"/v1/tenants/{tenant}/runs/{conversation}.1/events"
    run = await client.get(first["links"]["run"])
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "completed"
    assert run.json()["output"] == first["answer"]

    listed = await client.get(f"{conversations_url(tenant)}/{conversation}/messages")
    assert listed.status_code == 200
    assert [m["text"] for m in listed.json()["messages"]] == questions
    assert [m["status"] for m in listed.json()["messages"]] == ["completed"] * 3
    read = await client.get(f"{conversations_url(tenant)}/{conversation}")
    assert read.json()["turn_count"] == 3
    audit = await world.admin.client.get(
        f"/v1/tenants/{tenant}/audit", params={"action": "send_message", "limit": 200}
    )
    targets = {e["target"] for e in audit.json()["events"] if e["outcome"] == "success"}
    assert {f"{conversation}.{n}" for n in (1, 2, 3)} <= targets
    assert read.json()["status"] == "idle"
    assert read.json()["message_input"] == "question"


async def test_a_second_message_while_the_first_is_answered_is_refused(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    conversation = await new_conversation(client, tenant, await tree(world, CONFIRM, "confirm"))
    first = await say(client, tenant, conversation, "delete the backups", wait="false")
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "answering"

    second = await say(client, tenant, conversation, "and the logs")
    assert second.status_code == 409, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"].endswith("turn-in-progress")

    # the waiting turn is a run: answer its input node through the run routes
    run_url = first.json()["links"]["run"]
    answered = await client.post(f"{run_url}/input", json={"value": "yes"})
    assert answered.status_code == 200, answered.text
    messages = await wait_for_turns(client, tenant, conversation, 1)
    assert messages[0]["answer"] == {"text": "delete the backups: yes"}
    assert len(messages) == 1  # the refused message left nothing behind

    again = await say(client, tenant, conversation, "and the logs", wait="false")
    assert again.status_code == 202
    assert again.json()["turn"] == 2


async def wait_for_turns(
    client: httpx.AsyncClient, tenant: uuid.UUID, conversation: str, done: int
) -> list[dict[str, Any]]:
    url = f"{conversations_url(tenant)}/{conversation}/messages"
    for _ in range(200):
        messages: list[dict[str, Any]] = (await client.get(url)).json()["messages"]
        if sum(m["status"] == "completed" for m in messages) >= done:
            return messages
        await asyncio.sleep(0.05)
    raise AssertionError(f"{done} turns did not complete: {messages}")


async def test_an_ended_conversation_refuses_messages(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    conversation = await new_conversation(client, tenant, await tree(world, ECHO, "echo"))
    assert (await say(client, tenant, conversation, "hello")).status_code == 200
    ended = await client.post(f"{conversations_url(tenant)}/{conversation}/end")
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended"
    assert ended.json()["turn_count"] == 1

    refused = await say(client, tenant, conversation, "still there?")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("conversation-ended")
    again = await client.delete(f"{conversations_url(tenant)}/{conversation}")
    assert again.status_code == 200  # ending is idempotent
    listed = await client.get(f"{conversations_url(tenant)}/{conversation}/messages")
    assert [m["answer"] for m in listed.json()["messages"]] == [{"text": "turn 1: hello | before:"}]


async def test_turns_see_the_earlier_messages(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    conversation = await new_conversation(client, tenant, await tree(world, ECHO, "echo"))
    texts = [(await say(client, tenant, conversation, m)).json() for m in ("a", "b", "c")]
    assert [t["answer"]["text"] for t in texts] == [
        "turn 1: a | before:",
        "turn 2: b | before: a",
        "turn 3: c | before: a; b",
    ]


async def test_other_tenants_conversations_are_not_found(world: World) -> None:
    conversation = await new_conversation(
        world.user.client, world.tenant_a, await tree(world, ECHO, "echo")
    )
    outsider = world.outsider.client
    url = f"{conversations_url(world.tenant_b)}/{conversation}"
    for response in (
        await outsider.get(url),
        await outsider.get(f"{url}/messages"),
        await say(outsider, world.tenant_b, conversation, "hi"),
        await outsider.post(f"{url}/end"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["type"].endswith("not-found")
    # and tenant A's own URL is closed to a non-member
    assert (
        await outsider.get(f"{conversations_url(world.tenant_a)}/{conversation}")
    ).status_code in (
        403,
        404,
    )
    assert (
        await world.user.client.get(f"{conversations_url(world.tenant_a)}/{conversation}")
    ).json()["turn_count"] == 0


async def test_bad_requests_name_the_field(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    missing = await client.post(conversations_url(tenant), json={"tree": unique("nope")})
    assert missing.status_code == 404
    echo = await tree(world, ECHO, "echo")
    bad_input = await client.post(conversations_url(tenant), json={"tree": echo, "input": "other"})
    assert bad_input.status_code == 422
    assert bad_input.json()["errors"][0]["field"] == "body.input"
    conversation = await new_conversation(client, tenant, echo)
    too_long = await say(client, tenant, conversation, "x" * 4001)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "body.text"
    unknown = await say(client, tenant, "c-0000000000000000", "hi")
    assert unknown.status_code == 404


async def test_read_only_members_read_but_do_not_send(world: World) -> None:
    conversation = await new_conversation(
        world.user.client, world.tenant_a, await tree(world, ECHO, "echo")
    )
    reader = world.read_only.client
    assert (
        await reader.get(f"{conversations_url(world.tenant_a)}/{conversation}")
    ).status_code == 200
    assert (await say(reader, world.tenant_a, conversation, "hi")).status_code == 403


async def test_create_with_a_first_message_answers_it_in_the_same_call(world: World) -> None:
    client, tenant = world.user.client, world.tenant_a
    response = await client.post(
        conversations_url(tenant),
        json={"tree": await tree(world, ECHO, "echo"), "message": "first"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["turn_count"] == 1
    assert body["message"]["answer"] == {"text": "turn 1: first | before:"}
    run = await client.get(body["message"]["links"]["run"])
    assert run.json()["status"] == "completed"
    follow_up = await say(client, tenant, body["id"], "second")
    assert follow_up.json()["answer"] == {"text": "turn 2: second | before: first"}


async def test_idle_conversations_are_not_open_runs(world: World) -> None:
    """The concurrent-runs quota and the runs list count runs, not idle conversations."""
    outsider = world.outsider.client
    name = unique("idle")
    await create(outsider, world.tenant_b, yaml.safe_dump({"name": name, **ECHO}))
    ids = [await new_conversation(outsider, world.tenant_b, name) for _ in range(2)]
    for conversation in ids:
        answered = await say(outsider, world.tenant_b, conversation, "hello")
        assert answered.status_code == 200, answered.text
    try:
        async with one_open_run_allowed(outsider, world.tenant_b):
            started = await start(
                outsider, world.tenant_b, name, unique(), inputs={"message": "a plain run"}
            )
            assert started.status_code == 201, started.text
            listed = (await outsider.get(f"/v1/tenants/{world.tenant_b}/runs?limit=200")).json()
            assert all("conversation/" not in run["workflow_id"] for run in listed["runs"])
    finally:
        for conversation in ids:
            await outsider.post(f"{conversations_url(world.tenant_b)}/{conversation}/end")
