"""Run steps and the run event stream over real HTTP, served by two real API processes."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.serving import GRACEFUL_SHUTDOWN_SECONDS
from tests.api.conftest import _JWT_KEY, _SECRET_KEY, World
from tests.support.api_process import ApiProcess
from treeflow.devserver import DevServer

pytestmark = pytest.mark.usefixtures("world")

HTTPS = {"X-Forwarded-Proto": "https"}
CAP = 2
KEEPALIVE = 0.5
TREE = """name: streamed
start: first
nodes:
  first: {kind: tool, tool: text_response@^1, args: {text: "hello"}, next: ask}
  ask: {kind: input, prompt: "go on?", save_as: go, next: second}
  second: {kind: tool, tool: text_response@^1, args: {text: "{{ state.go }}"}, next: done}
  done: {kind: end, output: {answer: "{{ results.second.text }}"}}
"""
WAITING = """name: waiting
start: ask
nodes:
  ask: {kind: input, prompt: "go?", save_as: go, next: done}
  done: {kind: end}
"""


@dataclass
class Sse:
    id: int | None = None
    event: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def apis(db_url: str, dev_server: DevServer, worker: str) -> Iterator[list[ApiProcess]]:
    """Two `treeflow api` processes on the session's database and Temporal."""
    env = {
        "TREEFLOW_DEV_MODE": "false",
        "TREEFLOW_PUBLIC_URL": "https://treeflow.test",
        "TREEFLOW_DATABASE_URL": db_url,
        "TREEFLOW_JWT_SIGNING_KEYS": json.dumps([_JWT_KEY]),
        "TREEFLOW_SECRET_KEYS": json.dumps({"k1": _SECRET_KEY}),
        "TREEFLOW_SECRET_ACTIVE_KEY_ID": "k1",
        "TREEFLOW_TRUSTED_PROXIES": '["127.0.0.1/32"]',
        "TREEFLOW_PAYLOAD_ENCRYPTION": "false",
        "TREEFLOW_TEMPORAL_ADDRESS": dev_server.address,
        "TREEFLOW_TEMPORAL_TASK_QUEUE": worker,
        "TREEFLOW_EVENT_STREAMS_PER_TENANT": str(CAP),
        "TREEFLOW_EVENT_STREAM_KEEPALIVE_SECONDS": str(KEEPALIVE),
        "TREEFLOW_RATE_LIMIT_IP_PER_MINUTE": "1000000",
        "TREEFLOW_RATE_LIMIT_PRINCIPAL_PER_MINUTE": "1000000",
    }
    processes = [ApiProcess(env).start(), ApiProcess(env).start()]
    yield processes
    for process in processes:
        process.stop()
    for process in processes:
        assert "Traceback" not in "".join(process.lines), "".join(process.lines[-40:])


def http(api: ApiProcess, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{api.port}",
        headers={**HTTPS, "Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30, read=20),
    )


async def read_sse(response: httpx.Response) -> AsyncIterator[Sse | str]:
    """Events, and comment lines as plain strings."""
    current = Sse()
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield line[1:].strip()
        elif line.startswith("id: "):
            current.id = int(line[4:])
        elif line.startswith("event: "):
            current.event = line[7:]
        elif line.startswith("data: "):
            current.data = json.loads(line[6:])
        elif line == "" and current.event is not None:
            yield current
            current = Sse()


async def events_until(
    client: httpx.AsyncClient, url: str, stop_at: str, headers: dict[str, str] | None = None
) -> list[Sse]:
    seen: list[Sse] = []
    async with client.stream("GET", url, headers=headers or {}) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for item in read_sse(response):
            if isinstance(item, Sse):
                seen.append(item)
                if item.event == stop_at:
                    break
    return seen


async def start(world: World, tree_source: str, key: str) -> str:
    admin = world.admin.client
    tenant = world.tenant_a
    name = tree_source.split("\n", 1)[0].split(": ", 1)[1]
    created = await admin.post(f"/v1/tenants/{tenant}/trees", json={"source": tree_source})
    assert created.status_code in (201, 409), created.text
    started = await admin.post(
        f"/v1/tenants/{tenant}/runs", json={"tree": name}, headers={"Idempotency-Key": key}
    )
    assert started.status_code == 201, started.text
    return f"/v1/tenants/{tenant}/runs/{key}"


async def wait_for_status(world: World, run: str, status: str) -> dict[str, Any]:
    for _ in range(200):
        view = (await world.admin.client.get(run)).json()
        if view["status"] == status:
            return dict(view)
        await asyncio.sleep(0.05)
    raise AssertionError(f"run never reached {status}: {view}")


async def test_a_stream_resumes_on_another_process_without_gaps_or_duplicates(
    world: World, apis: list[ApiProcess]
) -> None:
    run = await start(world, TREE, "stream-two-processes")
    first, second = (http(api, world.read_only.token) for api in apis)
    async with first, second:
        # Part of a live run from process one, until the run waits for input.
        head = await events_until(first, f"{run}/events", "input.requested")
        # The run goes on while no client is connected.
        answered = await world.admin.client.post(f"{run}/input", json={"value": "onwards"})
        assert answered.status_code == 200, answered.text
        # Reconnect to process two with the last id seen.
        tail = await events_until(
            second, f"{run}/events", "run.ended", {"Last-Event-ID": str(head[-1].id)}
        )
        # A client connecting after the end gets the whole sequence, then the end.
        whole = await events_until(second, f"{run}/events", "run.ended")
        via_query = await events_until(first, f"{run}/events?after={head[2].id}", "run.ended")
    ids = [e.id for e in head + tail]
    assert ids == list(range(1, len(ids) + 1))
    assert [(e.id, e.event) for e in whole] == [(e.id, e.event) for e in head + tail]
    assert [e.id for e in via_query] == ids[3:]
    assert [e.event for e in whole] == [
        "step.started",
        "step.completed",
        "step.started",
        "input.requested",
        "input.answered",
        "step.completed",
        "step.started",
        "step.completed",
        "step.started",
        "step.completed",
        "output",
        "run.ended",
    ]
    assert whole[0].data["data"]["activity"] == "text_response@1.0.0"
    assert whole[4].data["data"]["value"]["value"] == "onwards"
    assert whole[-2].data["data"]["output"]["value"] == {"answer": "onwards"}
    assert whole[-1].data["data"]["status"] == "completed"


async def test_steps_are_listed_and_part_of_the_run_view(world: World) -> None:
    run = await start(world, TREE, "stream-steps")
    await wait_for_status(world, run, "waiting_input")
    await world.admin.client.post(f"{run}/input", json={"value": "yes"})
    view = await wait_for_status(world, run, "completed")
    assert view["steps"] == 4
    records = view["step_records"]
    assert [r["node"] for r in records] == ["first", "ask", "second", "done"]
    listed = await world.read_only.client.get(f"{run}/steps")
    assert listed.status_code == 200
    steps = listed.json()["steps"]
    assert steps == records
    tool = steps[0]
    assert tool["activity"] == "text_response@1.0.0"
    assert tool["attempts"] == 1
    assert tool["outcome"] == "completed"
    assert tool["result"]["value"]["text"] == "hello"
    assert steps[1]["result"]["value"] == "yes"


async def test_streams_need_run_read_rights_in_the_tenant(world: World, app: FastAPI) -> None:
    run = await start(world, WAITING, "stream-rbac")
    outsider = await world.outsider.client.get(f"{run}/events")
    assert outsider.status_code == 404
    assert outsider.headers["content-type"] == "application/problem+json"
    anonymous = await world.anonymous.get(f"{run}/events")
    assert anonymous.status_code == 401
    missing = await world.admin.client.get(f"/v1/tenants/{world.tenant_a}/runs/nope/events")
    assert missing.status_code == 404
    bad = await world.admin.client.get(f"{run}/events", headers={"Last-Event-ID": "x1"})
    assert bad.status_code == 422
    assert "Last-Event-ID" in bad.text


async def test_open_streams_per_tenant_are_capped_and_given_back(
    world: World, apis: list[ApiProcess]
) -> None:
    run = await start(world, WAITING, "stream-cap")
    api = apis[0]
    clients = [http(api, world.read_only.token) for _ in range(CAP + 2)]
    try:
        held = [
            await c.send(c.build_request("GET", f"{run}/events"), stream=True)
            for c in clients[:CAP]
        ]
        assert [r.status_code for r in held] == [200] * CAP
        refused = await clients[CAP].get(f"{run}/events")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        # The other process has its own count (the cap is per process).
        other = http(apis[1], world.read_only.token)
        async with other, other.stream("GET", f"{run}/events") as elsewhere:
            assert elsewhere.status_code == 200
        # Idle streams get keep-alive comments.
        comments: list[str] = []
        async for item in read_sse(held[0]):
            if isinstance(item, str):
                comments.append(item)
            if comments.count("keep-alive") >= 2:
                break
        # A client that goes away gives its slot back.
        await held[0].aclose()
        for _ in range(100):
            again = await clients[CAP + 1].send(
                clients[CAP + 1].build_request("GET", f"{run}/events"), stream=True
            )
            if again.status_code == 200:
                await again.aclose()
                break
            await again.aclose()
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the slot of a closed stream was never given back")
        for response in held[1:]:
            await response.aclose()
    finally:
        for client in clients:
            await client.aclose()
        await world.admin.client.post(f"{run}/cancel")


async def test_a_stopping_process_ends_its_open_streams(
    world: World, apis: list[ApiProcess]
) -> None:
    """SIGTERM with a stream open: the process ends after the graceful-shutdown bound
    instead of waiting for the client (which then resumes on another replica)."""
    run = await start(world, WAITING, "stream-shutdown")
    process = ApiProcess(dict(apis[0].env)).start()
    try:
        client = http(process, world.read_only.token)
        async with client, client.stream("GET", f"{run}/events") as response:
            assert response.status_code == 200
            async for item in read_sse(response):
                if isinstance(item, Sse) and item.event == "input.requested":
                    break
            assert process.process is not None
            process.process.terminate()
            began = time.monotonic()
            code = await asyncio.to_thread(process.process.wait, GRACEFUL_SHUTDOWN_SECONDS + 20)
            took = time.monotonic() - began
        assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it is done
        assert took < GRACEFUL_SHUTDOWN_SECONDS + 10
    finally:
        process.stop()
        await world.admin.client.post(f"{run}/cancel")
