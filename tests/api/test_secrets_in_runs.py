"""A tenant secret reaches the tool that needs it, and nowhere else: not the workflow
history, not API responses, not logs. Checked by searching all three."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets as random_secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from fastapi import FastAPI
from temporalio.client import Client

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.secrets.resolver import store_resolver
from api.db.models import Role
from api.services import Services
from api.settings import Settings
from tests.api.conftest import Actor, create_actor, create_tenant
from tests.support.http_server import http_server
from worker.runner import build_worker
from worker.settings import WorkerSettings


def on_queue(settings: Settings, queue: str) -> Settings:
    """The settings with runs started on `queue` (a worker of the test's own)."""
    return settings.model_copy(
        update={"temporal": settings.temporal.model_copy(update={"task_queue": queue})}
    )


async def test_secrets_never_leak_into_histories_responses_or_logs(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    client: Client,
    registry: ToolRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    queue = f"secrets-{uuid.uuid4().hex[:6]}"
    app = await start_app(on_queue(make_settings(), queue))
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
        await call(
            "PUT",
            f"/v1/tenants/{tenant}/secrets/partner-token/policy",
            json={"allowed_tools": ["http_request"]},
        )
        await call("GET", f"/v1/tenants/{tenant}/secrets")
        source = _call_tree(f"{server.url}/auth", secret="partner-token")
        await call("POST", f"/v1/tenants/{tenant}/trees", json={"source": source})
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


# ------------------------------------------------------------------ as an attacker


def _call_tree(url: str, template: str = "Bearer {secret}", secret: str = "partner") -> str:
    tree = {
        "name": "call-partner",
        "start": "call",
        "nodes": {
            "call": {
                "kind": "tool",
                "tool": "http_request@^1",
                "args": {
                    "url": url,
                    "secret_headers": {"Authorization": {"secret": secret, "template": template}},
                },
                "next": "done",
            },
            "done": {"kind": "end", "output": {"status": "{{ results.call.status }}"}},
        },
    }
    return yaml.safe_dump(tree)


async def _platform_rows(services: Services) -> str:
    """Every row of every platform table, as text (what a database reader sees)."""
    from api.db.models import all_metadata

    dump: list[str] = []
    async with services.engine.connect() as conn:
        for table in all_metadata.sorted_tables:  # the platform's one MetaData
            rows = (await conn.execute(sa.select(table))).all()
            dump.extend(repr(tuple(row)) for row in rows)
    return "\n".join(dump)


async def _finish(actor: httpx.AsyncClient, view: dict[str, Any]) -> dict[str, Any]:
    for _ in range(300):
        response = await actor.get(str(view["links"]["self"]))
        view = response.json()
        if view["status"] != "running":
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"run did not finish: {view}")


@pytest.fixture
async def secret_stack(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    client: Client,
    registry: ToolRegistry,
) -> AsyncIterator[tuple[FastAPI, uuid.UUID, dict[str, Actor], Any]]:
    """An API, a tenant with an admin, a user and a read-only member, an HTTP server and
    a worker whose tools resolve the tenant's secrets from the API's store."""
    queue = f"secrets-{uuid.uuid4().hex[:6]}"
    app = await start_app(on_queue(make_settings(), queue))
    services: Services = app.state.services
    tenant = await create_tenant(services, "atk")
    actors = {
        role.value: await create_actor(app, f"atk-{role.value}", {tenant: role})
        for role in (Role.ADMIN, Role.USER, Role.READ_ONLY)
    }
    host = ToolHost(
        registry,
        config={"http_request": {"allowed_hosts": ["127.0.0.1"]}},
        secrets=store_resolver(services.secrets),
    )
    with http_server() as server:
        async with host.running(), build_worker(client, WorkerSettings(), queue, host):
            yield app, tenant, actors, server
    for actor in actors.values():
        await actor.client.aclose()


MALFORMED = {
    "leading-space": " {core}",
    "trailing-newline": "{core}\n",
    "crlf-header-injection": "{core}\r\nX-Injected: yes",
    "tab-and-cr": "\t{core}\r",
}


@pytest.mark.parametrize("shape", sorted(MALFORMED))
async def test_a_malformed_secret_never_reaches_what_members_can_read(
    secret_stack: tuple[FastAPI, uuid.UUID, dict[str, Actor], Any],
    client: Client,
    caplog: pytest.LogCaptureFixture,
    shape: str,
) -> None:
    """A secret stored before validation existed (or in Vault) with whitespace or CR/LF:
    the HTTP client would refuse the header quoting it. The run fails clearly, naming
    the header and the secret, and the value is nowhere: not the run view a read-only
    member reads, not Temporal's history, not the logs, not the platform database."""
    caplog.set_level(logging.DEBUG)
    app, tenant, actors, server = secret_stack
    services: Services = app.state.services
    core = "tfsecret-" + random_secrets.token_urlsafe(24)
    await services.secrets.put(tenant, "partner", MALFORMED[shape].format(core=core))
    admin, user, reader = actors["admin"], actors["user"], actors["read-only"]
    policy = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/partner/policy", json={"allowed_tools": ["http_request"]}
    )
    assert policy.status_code == 200, policy.text
    created = await user.client.post(
        f"/v1/tenants/{tenant}/trees",
        json={"source": _call_tree(f"{server.url}/auth", template="{secret}")},
    )
    assert created.status_code == 201, created.text
    started = await user.client.post(
        f"/v1/tenants/{tenant}/runs",
        json={"tree": "call-partner"},
        headers={"Idempotency-Key": f"malformed-{shape}"},
    )
    assert started.status_code in (200, 201, 202), started.text
    view = await _finish(reader.client, started.json())
    history = await client.get_workflow_handle(str(view["workflow_id"])).fetch_history()
    places = {
        "run view": json.dumps(view),
        "history": history.to_json(),
        "logs": caplog.text,
        "platform database": await _platform_rows(services),
        "audit": (await admin.client.get(f"/v1/tenants/{tenant}/audit")).text,
    }
    for place, text in places.items():
        assert core not in text, f"the secret leaked into the {place}"
    assert view["status"] == "failed", view
    message = view["failure"]["message"]
    assert "secret header 'Authorization'" in message, message
    assert "secret 'partner'" in message, message
    assert server.requests == []  # refused before anything was sent


async def test_hostile_templates_and_values_are_refused_when_saved(
    secret_stack: tuple[FastAPI, uuid.UUID, dict[str, Actor], Any],
) -> None:
    """Templates are plain `{secret}` substitution: format specs (a 30 MB header), extra
    fields and whitespace are refused with a 422 naming the field, and so is a token
    secret whose value could not be a header."""
    _, tenant, actors, server = secret_stack
    user, admin = actors["user"], actors["admin"]
    field = "nodes.call.args.secret_headers.Authorization.template"
    for template in ("{secret:>30000000}", " {secret}", "{secret}\r\nX: y", "{0}", "{secret.x}"):
        response = await user.client.post(
            f"/v1/tenants/{tenant}/trees", json={"source": _call_tree(server.url, template)}
        )
        assert response.status_code == 422, (template, response.text)
        assert field in response.text, response.text
    tool = {
        "name": "partner-api",
        "version": "1.0.0",
        "description": "Calls the partner API with the partner token.",
        "request": {
            "url": f"{server.url}/auth",
            "headers": {"X-Trace": " {x}"},
            "secret_headers": {"Authorization": {"secret": "partner", "template": "{secret:>99}"}},
        },
        "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}},
    }
    response = await admin.client.post(f"/v1/tenants/{tenant}/tools", json=tool)
    assert response.status_code == 422, response.text
    fields = {error["field"] for error in response.json()["errors"]}
    assert any("secret_headers.Authorization.template" in f for f in fields), fields
    core = "zq" + random_secrets.token_hex(8)
    for bad in (f"{core}\n", f" {core}", f"{core}\r\nX: 1", f"{core}\x00"):
        put = await admin.client.put(f"/v1/tenants/{tenant}/secrets/partner", json={"value": bad})
        assert put.status_code == 422, put.text
        assert put.json()["errors"][0]["field"] == "body.value", put.text
        assert core not in put.text
    text = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/pem",
        json={"value": "-----BEGIN-----\nabc\n", "format": "text"},
    )
    assert text.status_code == 200, text.text


async def test_http_request_resolves_a_secret_only_when_an_admin_allowed_it(
    secret_stack: tuple[FastAPI, uuid.UUID, dict[str, Actor], Any],
) -> None:
    """`http_request` lets the tree author pick the URL, so an echoing allow-listed host
    would hand the secret back in the run output: a user's tree can use a secret there
    only after a tenant admin lists the tool in the secret's policy."""
    _, tenant, actors, server = secret_stack
    admin, user = actors["admin"], actors["user"]
    server.expected_token = "partner-" + random_secrets.token_urlsafe(16)
    put = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/partner", json={"value": server.expected_token}
    )
    assert put.status_code == 200, put.text
    assert put.json()["allowed_tools"] is None
    created = await user.client.post(
        f"/v1/tenants/{tenant}/trees", json={"source": _call_tree(f"{server.url}/auth")}
    )
    assert created.status_code == 201, created.text

    async def run(key: str) -> dict[str, Any]:
        started = await user.client.post(
            f"/v1/tenants/{tenant}/runs",
            json={"tree": "call-partner"},
            headers={"Idempotency-Key": key},
        )
        assert started.status_code in (200, 201, 202), started.text
        return await _finish(user.client, started.json())

    denied = await run("default-policy")
    assert denied["status"] == "failed", denied
    assert "may not be used by tool 'http_request'" in denied["failure"]["message"], denied
    assert server.requests == []
    forbidden = await user.client.put(
        f"/v1/tenants/{tenant}/secrets/partner/policy", json={"allowed_tools": ["http_request"]}
    )
    assert forbidden.status_code == 403, forbidden.text
    other = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/partner/policy", json={"allowed_tools": ["crm-lookup"]}
    )
    assert other.status_code == 200, other.text
    assert other.json()["allowed_tools"] == ["crm-lookup"]
    assert (await run("other-tool-only"))["status"] == "failed"
    allowed = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/partner/policy", json={"allowed_tools": ["http_request"]}
    )
    assert allowed.status_code == 200, allowed.text
    replaced = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/partner", json={"value": server.expected_token}
    )
    assert replaced.json()["allowed_tools"] == ["http_request"]  # a new value keeps the policy
    done = await run("allowed")
    assert done["status"] == "completed", done
    assert done["output"] == {"status": 200}
    missing = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/nope/policy", json={"allowed_tools": None}
    )
    assert missing.status_code == 404, missing.text
    bad = await admin.client.put(
        f"/v1/tenants/{tenant}/secrets/partner/policy", json={"allowed_tools": ["Not A Tool"]}
    )
    assert bad.status_code == 422, bad.text
    assert "body.allowed_tools" in bad.text
