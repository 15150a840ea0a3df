"""A tenant secret reaches the tool that needs it, and nowhere else: not the workflow
history, not API responses, not logs. Checked by searching all three."""

from __future__ import annotations

import asyncio
import logging
import secrets as random_secrets
import uuid
from collections.abc import Awaitable, Callable

import pytest
import yaml
from fastapi import FastAPI
from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.secrets.resolver import store_resolver
from api.db.models import Role
from api.services import Services
from api.settings import Settings
from tests.api.conftest import create_actor, create_tenant
from tests.support.http_server import http_server
from worker.runner import build_worker
from worker.settings import WorkerSettings


async def test_secrets_never_leak_into_histories_responses_or_logs(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    client: Client,
    registry: ToolRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    queue = f"secrets-{uuid.uuid4().hex[:6]}"
    settings = make_settings()
    app = await start_app(
        settings.model_copy(
            update={"temporal": settings.temporal.model_copy(update={"task_queue": queue})}
        )
    )
    services: Services = app.state.services
    tenant = await create_tenant(services, "sec")
    admin = await create_actor(app, "sec-admin", {tenant: Role.ADMIN})
    value = "tfsecret-" + random_secrets.token_urlsafe(24)
    seen: list[str] = []

    async def call(method: str, url: str, **kwargs: object) -> dict[str, object]:
        response = await admin.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        seen.append(response.text)
        assert response.status_code < 400, response.text
        return response.json() if response.content else {}

    with http_server() as server:
        server.expected_token = value
        await call("PUT", f"/v1/tenants/{tenant}/secrets/partner-token", json={"value": value})
        await call("GET", f"/v1/tenants/{tenant}/secrets")
        tree = {
            "name": "call-partner",
            "start": "call",
            "nodes": {
                "call": {
                    "kind": "tool",
                    "tool": "http_request@^1",
                    "args": {
                        "url": f"{server.url}/auth",
                        "secret_headers": {
                            "Authorization": {
                                "secret": "partner-token",
                                "template": "Bearer {secret}",
                            }
                        },
                    },
                    "next": "done",
                },
                "done": {"kind": "end", "output": {"status": "{{ results.call.status }}"}},
            },
        }
        await call("POST", f"/v1/tenants/{tenant}/trees", json={"source": yaml.safe_dump(tree)})
        host = ToolHost(
            registry,
            config={"http_request": {"allowed_hosts": ["127.0.0.1"]}},
            secrets=store_resolver(services.secrets),
        )
        async with host.running(), build_worker(client, WorkerSettings(), queue, host):
            view = await call(
                "POST",
                f"/v1/tenants/{tenant}/runs",
                json={"tree": "call-partner"},
                headers={"Idempotency-Key": "leak-check"},
            )
            for _ in range(200):
                view = await call("GET", str(view["links"]["self"]))  # type: ignore[index]
                if view["status"] != "running":
                    break
                await asyncio.sleep(0.05)
    assert view["status"] == "completed", view
    assert view["output"] == {"status": 200}  # the tool authenticated with the secret
    history = await client.get_workflow_handle(str(view["workflow_id"])).fetch_history()
    assert value not in history.to_json()
    assert all(value not in text for text in seen)
    audit = await admin.client.get(f"/v1/tenants/{tenant}/audit")
    assert value not in audit.text
    assert value not in caplog.text
    await admin.client.aclose()
