"""Temporal payloads are encrypted per tenant; the codec endpoint decodes only your own.

A run started through the API with payload encryption on, executed by a worker
using the same codec: its history fetched raw holds no plaintext input, tool
argument, tool result or output; the API still shows the output; the codec endpoint
decodes the run's payloads for a member of the tenant and for nobody else; a key
rotation leaves old runs readable; recorded (plaintext) histories still replay.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets as random_secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import WorkflowSerializationContext
from temporalio.worker import Replayer

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from api.db.models import Role
from api.services import Services
from api.settings import Settings
from foundation.secrets import Keyring
from foundation.secrets.payload_codec import (
    ENCODING,
    PayloadDecryptError,
    TenantPayloadCodec,
    payload_tenant,
)
from temporal_client.connection import TemporalSettings, data_converter
from tests.api.conftest import Actor, client_for, create_actor, create_tenant
from tests.support.http_server import http_server
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.workflow import DecisionTreeWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
UI_ORIGIN = "https://temporal-ui.treeflow.test"
K1 = Keyring.generate_key()
K2 = Keyring.generate_key()


def _tree(url: str) -> str:
    return yaml.safe_dump(
        {
            "name": "echo-partner",
            "start": "call",
            "inputs": {"item": {"type": "string"}},
            "nodes": {
                "call": {
                    "kind": "tool",
                    "tool": "http_request@^1",
                    "args": {
                        "method": "POST",
                        "url": f"{url}/echo",
                        "json_body": {"q": "{{ inputs.item }}"},
                    },
                    "next": "done",
                },
                "done": {
                    "kind": "end",
                    "output": {"echo": "{{ results.call.json_body.received.q }}"},
                },
            },
        }
    )


def _codec(keys: dict[str, str], active: str) -> TenantPayloadCodec:
    return TenantPayloadCodec(Keyring.from_encoded(keys, active))


class Stack:
    """An API and a worker sharing one codec, and members of two tenants."""

    def __init__(self, app: FastAPI, tenant: uuid.UUID, actors: dict[str, Actor], url: str):
        self.app = app
        self.tenant = tenant
        self.actors = actors
        self.url = url

    async def run(self, item: str, key: str) -> dict[str, Any]:
        user = self.actors["user"].client
        started = await user.post(
            f"/v1/tenants/{self.tenant}/runs",
            json={"tree": "echo-partner", "inputs": {"item": item}},
            headers={"Idempotency-Key": key},
        )
        assert started.status_code in (200, 201, 202), started.text
        view: dict[str, Any] = started.json()
        for _ in range(300):
            view = (await user.get(str(view["links"]["self"]))).json()
            if view["status"] != "running":
                return view
            await asyncio.sleep(0.05)
        raise AssertionError(view)


@pytest.fixture
async def stack_for(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    temporal_settings: TemporalSettings,
    registry: ToolRegistry,
) -> AsyncIterator[Callable[[dict[str, str], str], Awaitable[Stack]]]:
    """Start (API + codec worker) stacks on one queue; keys differ per stack (rotation)."""
    queue = f"codec-{uuid.uuid4().hex[:6]}"
    exits: list[Any] = []
    tenant: uuid.UUID | None = None
    actors: dict[str, Actor] = {}
    with http_server() as server:

        async def start(keys: dict[str, str], active: str) -> Stack:
            nonlocal tenant
            for previous in reversed(exits):
                await previous()
            exits.clear()
            settings = make_settings(
                payload_encryption=True,
                secret_keys=dict(keys),
                secret_active_key_id=active,
                temporal=temporal_settings.model_copy(
                    update={"task_queue": queue, "ui_url": UI_ORIGIN}
                ),
            )
            app = await start_app(settings)
            services: Services = app.state.services
            if tenant is None:
                tenant = await create_tenant(services, "codec")
                other = await create_tenant(services, "codec-other")
                actors["user"] = await create_actor(app, "codec-user", {tenant: Role.USER})
                actors["reader"] = await create_actor(app, "codec-reader", {tenant: Role.READ_ONLY})
                actors["admin"] = await create_actor(app, "codec-admin", {tenant: Role.ADMIN})
                actors["outsider"] = await create_actor(app, "codec-out", {other: Role.ADMIN})
                created = await actors["user"].client.post(
                    f"/v1/tenants/{tenant}/trees", json={"source": _tree(server.url)}
                )
                assert created.status_code == 201, created.text
            else:  # a restarted API (same JWT keys): the same members, new clients
                for actor in actors.values():
                    await actor.client.aclose()
                    actor.client = client_for(app, actor.token)
            codec = _codec(keys, active)
            client = await Client.connect(**temporal_settings.connect_kwargs(codec))
            host = ToolHost(registry, config={"http_request": {"allowed_hosts": ["127.0.0.1"]}})
            await host.startup()
            worker = build_worker(client, WorkerSettings(graceful_shutdown_seconds=1), queue, host)
            await worker.__aenter__()

            async def leave() -> None:
                await worker.__aexit__(None, None, None)
                await host.shutdown()

            exits.append(leave)
            return Stack(app, tenant, actors, server.url)

        yield start
        for previous in reversed(exits):
            await previous()
    for actor in actors.values():
        await actor.client.aclose()


def _payloads_of(history_json: str) -> list[dict[str, Any]]:
    """Every payload (JSON form) anywhere in a history."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "metadata" in value and ("data" in value or "encoding" in value["metadata"]):
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(history_json))
    return found


async def test_run_payloads_are_ciphertext_and_only_the_tenant_can_decode_them(
    stack_for: Callable[[dict[str, str], str], Awaitable[Stack]],
    client: Client,
) -> None:
    stack = await stack_for({"k1": K1}, "k1")
    item = "plaintext-" + random_secrets.token_hex(10)
    view = await stack.run(item, "codec-1")
    assert view["status"] == "completed", view
    assert view["output"] == {"echo": item}  # the API decodes with the same codec
    raw = (await client.get_workflow_handle(view["workflow_id"]).fetch_history()).to_json()
    assert item not in raw
    assert base64.b64encode(item.encode()).decode()[:12] not in raw
    payloads = _payloads_of(raw)
    assert payloads, "the history has payloads"
    encoding = base64.b64encode(ENCODING).decode()
    # Search attributes (tenant, tree name/version/hash) stay readable for visibility, and
    # so do the SDK's own patch markers ({"id": "tf-...", "deprecated": false}), which
    # Temporal's core writes itself: they name a code version, never run data.
    clear = [
        p
        for p in payloads
        if p["metadata"].get("encoding") != encoding
        and "type" not in p["metadata"]
        and not _patch_marker(p)
    ]
    assert not clear, clear

    url = f"/v1/tenants/{stack.tenant}/codec/decode"
    body = {"payloads": payloads}
    reader = stack.actors["reader"].client
    decoded = await reader.post(url, json=body, headers={"X-Namespace": "default"})
    assert decoded.status_code == 200, decoded.text
    plain = [base64.b64decode(p.get("data", "")) for p in decoded.json()["payloads"]]
    assert any(item.encode() in data for data in plain)

    outsider = stack.actors["outsider"]
    (own_tenant,) = outsider.roles
    theirs = await outsider.client.post(f"/v1/tenants/{own_tenant}/codec/decode", json=body)
    assert theirs.status_code == 200, theirs.text
    assert theirs.json() == {"payloads": [_normal(p) for p in payloads]}  # still encrypted
    assert item not in theirs.text
    denied = await outsider.client.post(url, json=body)
    assert denied.status_code in (403, 404), denied.text
    anonymous = await reader.post(url, json=body, headers={"Authorization": ""})
    assert anonymous.status_code == 401, anonymous.text

    audit = await stack.actors["admin"].client.get(f"/v1/tenants/{stack.tenant}/audit")
    assert any(e["path"] == url for e in audit.json()["events"]), audit.text


def _patch_marker(payload: dict[str, Any]) -> bool:
    """A workflow.patched marker's details: exactly {"id": "tf-...", "deprecated": bool}."""
    try:
        details = json.loads(base64.b64decode(payload.get("data", "")))
    except ValueError:
        return False
    return (
        isinstance(details, dict)
        and set(details) == {"id", "deprecated"}
        and str(details["id"]).startswith("tf-")
    )


def _normal(payload: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": payload.get("metadata", {}), "data": payload.get("data", "")}


async def test_the_codec_endpoint_answers_cors_for_the_ui_origin_only(
    stack_for: Callable[[dict[str, str], str], Awaitable[Stack]],
) -> None:
    stack = await stack_for({"k1": K1}, "k1")
    client = stack.actors["reader"].client
    url = f"/v1/tenants/{stack.tenant}/codec/decode"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    ok = await client.options(url, headers={"Origin": UI_ORIGIN, **preflight})
    assert ok.status_code == 200, ok.text
    assert ok.headers["access-control-allow-origin"] == UI_ORIGIN
    assert ok.headers["access-control-allow-credentials"] == "true"
    evil = await client.options(url, headers={"Origin": "https://evil.test", **preflight})
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    posted = await client.post(url, json={"payloads": []}, headers={"Origin": UI_ORIGIN})
    assert posted.headers["access-control-allow-origin"] == UI_ORIGIN
    elsewhere = await client.get(f"/v1/tenants/{stack.tenant}/runs", headers={"Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in elsewhere.headers  # CORS only for the codec
    bad = await client.post(url, json={"payloads": [{"data": "not base64!"}]})
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["field"] == "body.payloads.0.data"


async def test_a_key_rotation_keeps_old_runs_readable(
    stack_for: Callable[[dict[str, str], str], Awaitable[Stack]],
    temporal_settings: TemporalSettings,
    client: Client,
) -> None:
    stack = await stack_for({"k1": K1}, "k1")
    old_item = "before-rotation-" + random_secrets.token_hex(6)
    old = await stack.run(old_item, "rot-old")
    assert old["status"] == "completed", old
    stack = await stack_for({"k1": K1, "k2": K2}, "k2")
    new = await stack.run("after-rotation", "rot-new")
    assert new["status"] == "completed", new
    rotated = await Client.connect(
        **temporal_settings.connect_kwargs(_codec({"k1": K1, "k2": K2}, "k2"))
    )
    assert (await rotated.get_workflow_handle(old["workflow_id"]).result())["output"] == {
        "echo": old_item
    }
    view = (await stack.actors["reader"].client.get(str(old["links"]["self"]))).json()
    assert view["output"] == {"echo": old_item}

    def key_ids(workflow_id: str) -> Awaitable[set[str]]:
        async def read() -> set[str]:
            raw = (await client.get_workflow_handle(workflow_id).fetch_history()).to_json()
            return {
                base64.b64decode(p["metadata"]["encryption-key-id"]).decode()
                for p in _payloads_of(raw)
                if "encryption-key-id" in p["metadata"]
            }

        return read()

    assert await key_ids(old["workflow_id"]) == {"k1"}
    assert "k2" in await key_ids(new["workflow_id"])


# ------------------------------------------------------------------ the codec alone


async def test_payloads_are_bound_to_their_tenant_and_plaintext_passes_through() -> None:
    codec = _codec({"k1": K1}, "k1")
    context_a = WorkflowSerializationContext(namespace="default", workflow_id="tenant-a:run/x/1.1")
    sealed = (await codec.with_context(context_a).encode([Payload(data=b"hello")]))[0]
    assert payload_tenant(sealed) == "tenant-a"
    assert b"hello" not in sealed.SerializeToString()
    assert (await codec.decode([sealed]))[0].data == b"hello"
    moved = Payload()
    moved.CopyFrom(sealed)
    moved.metadata["treeflow-tenant"] = b"tenant-b"
    with pytest.raises(PayloadDecryptError):
        await codec.decode([moved])
    assert codec.decrypt(sealed, tenants={"tenant-b"}) is sealed
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    assert (await codec.decode([plain]))[0] is plain
    other_ring = _codec({"k1": K2}, "k1")
    with pytest.raises(PayloadDecryptError):
        await other_ring.decode([sealed])


@pytest.mark.parametrize(
    "name", sorted(p.name for p in HISTORIES.glob("*.json") if p.name != "index.json")
)
async def test_recorded_histories_replay_with_the_codec_enabled(name: str) -> None:
    from temporalio.client import WorkflowHistory

    index = json.loads((HISTORIES / "index.json").read_text())
    path = HISTORIES / name
    history = WorkflowHistory.from_json(index[path.stem], path.read_text())
    replayer = Replayer(
        workflows=[DecisionTreeWorkflow], data_converter=data_converter(_codec({"k1": K1}, "k1"))
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


def test_payload_json_matches_temporals_protojson() -> None:
    """The endpoint's JSON is Temporal's (what the Web UI sends and expects)."""
    from temporalio.api.common.v1 import Payloads

    message = Payloads(payloads=[Payload(metadata={"encoding": b"binary/encrypted"}, data=b"\x00")])
    as_json = json.loads(json_format.MessageToJson(message))
    assert as_json == {
        "payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "AA=="}]
    }
