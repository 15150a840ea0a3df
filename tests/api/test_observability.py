"""API observability: request metrics, probes, flag API, request log context, traces."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.rbac import Permission, requires
from api.settings import Settings
from foundation.flags.settings import FlagSettings
from temporal_client.connection import TemporalSettings
from tests.api.conftest import World, client_for, live_server
from tests.support.observed import Observed
from tests.support.temporal_fixtures import start_compiled
from tests.support.traces import Trace
from tests.support.trees import end, tool_node, tree
from treeflow.devserver import free_port
from workflows.compiler import compile_tree

StartApp = Callable[[Settings], Awaitable[FastAPI]]


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def value(text: str, name: str, **labels: str) -> float:
    return sum(v for found, v in samples(text, name) if labels.items() <= found.items())


async def test_request_metrics_use_route_templates_and_count_refusals(
    app: FastAPI, world: World
) -> None:
    tenant = world.tenant_a
    assert (await world.admin.client.get(f"/v1/tenants/{tenant}")).status_code == 200
    assert (await world.anonymous.get(f"/v1/tenants/{tenant}")).status_code == 401
    bad_jwt = client_for(app, "not-a-jwt")
    bad_key = client_for(app, "tfk_not_a_real_key_123456")
    async with bad_jwt, bad_key:
        assert (await bad_jwt.get(f"/v1/tenants/{tenant}")).status_code == 401
        assert (await bad_key.get(f"/v1/tenants/{tenant}")).status_code == 401
    assert (await world.read_only.client.get(f"/v1/tenants/{tenant}/audit")).status_code == 403
    metrics = await world.anonymous.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    route = "/v1/tenants/{tenant_id}"
    assert value(text, "treeflow_http_requests_total", route=route, method="GET", status="200") >= 1
    assert value(text, "treeflow_http_requests_total", route=route, status="401") >= 3
    assert value(text, "treeflow_http_request_duration_seconds_count", route=route) >= 4
    assert str(tenant) not in text.replace(f'tenant="{tenant}"', "")  # ids never in routes
    for reason in ("missing_credentials", "invalid_token", "invalid_api_key", "forbidden"):
        assert value(text, "treeflow_auth_failures_total", reason=reason) >= 1, reason
    assert samples(text, "treeflow_http_requests_in_flight")  # this scrape itself is in flight
    assert value(text, "treeflow_http_requests_in_flight") >= 1


async def test_rate_limit_rejections_are_counted_by_scope(
    start_app: StartApp, make_settings: Callable[..., Settings]
) -> None:
    app = await start_app(make_settings(rate_limit_ip_per_minute=2))
    async with client_for(app) as client:
        statuses = [(await client.get("/v1/health")).status_code for _ in range(4)]
    assert statuses.count(429) == 2
    text = app.state.services.metrics.registry
    assert text.get_sample_value("treeflow_rate_limit_rejections_total", {"scope": "ip"}) == 2


async def test_metrics_token_and_plain_http_for_probes(
    start_app: StartApp, make_settings: Callable[..., Settings], temporal_settings: TemporalSettings
) -> None:
    app = await start_app(make_settings(metrics_token="scrape-me-123", temporal=temporal_settings))
    async with client_for(app, base_url="http://testserver") as plain:  # production: HTTPS only
        assert (await plain.get("/metrics")).status_code == 401
        scraped = await plain.get("/metrics", headers={"Authorization": "Bearer scrape-me-123"})
        assert scraped.status_code == 200
        assert (await plain.get("/healthz")).status_code == 200
        assert (await plain.get("/readyz")).status_code == 200
        assert (await plain.get("/v1/me")).status_code == 308  # everything else: HTTPS


async def test_readiness_reports_each_dependency_with_latency(app: FastAPI, world: World) -> None:
    live = await world.anonymous.get("/healthz")
    assert live.json() == {"status": "ok"}
    ready = await world.anonymous.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "temporal", "flags"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0


async def test_readiness_fails_without_temporal_and_degrades_without_the_flag_server(
    start_app: StartApp, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    app = await start_app(
        make_settings(
            temporal=TemporalSettings(address=nowhere),
            flags=FlagSettings(
                url=f"http://{nowhere}/api", token="x", request_timeout=1, cache_dir=tmp_path
            ),
        )
    )
    async with client_for(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["temporal"]["status"] == "failed"
    # Production mode: the error text (which names the address) stays in the log.
    assert nowhere not in response.text
    assert checks["temporal"]["detail"] == "failed; the API log has the error"
    assert checks["flags"]["status"] == "degraded"
    assert "serving last known flags" in checks["flags"]["detail"]


async def test_flag_api_shows_effective_values_to_tenant_admins(world: World) -> None:
    url = f"/v1/tenants/{world.tenant_a}/flags"
    listed = await world.admin.client.get(url, params={"tree": "support-triage"})
    assert listed.status_code == 200
    body = listed.json()
    assert body["backend"] == "embedded"
    assert body["context"] == {
        "tenant_id": str(world.tenant_a),
        "user_id": f"user:{world.admin.user_id}",
        "tree": "support-triage",
    }
    flags = {f["name"]: f for f in body["flags"]}
    assert flags["api.flags"]["enabled"] is True
    assert flags["tree.support-triage.rollout"]["enabled"] is False
    one = await world.admin.client.get(f"{url}/tool.http_request")
    assert one.status_code == 200
    assert one.json()["enabled"] is True
    assert (await world.admin.client.get(f"{url}/no.such.flag")).status_code == 404
    assert (await world.user.client.get(url)).status_code == 403
    assert (await world.outsider.client.get(url)).status_code == 404


async def test_the_flag_api_is_itself_behind_a_flag(
    start_app: StartApp, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    flags_file = tmp_path / "flags.json"
    allowed = str(uuid.uuid4())
    flags_file.write_text(
        json.dumps(
            {
                "version": 2,
                "features": [
                    {
                        "name": "api.flags",
                        "type": "release",
                        "enabled": True,
                        "strategies": [
                            {
                                "name": "default",
                                "parameters": {},
                                "constraints": [
                                    {
                                        "contextName": "tenantId",
                                        "operator": "IN",
                                        "values": [allowed],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            }
        )
    )
    app = await start_app(
        make_settings(flags=FlagSettings(file=flags_file, cache_dir=tmp_path / "c"))
    )
    from tests.api.conftest import create_actor, create_tenant

    tenant = await create_tenant(app.state.services, "flagged")
    from api.db.models import Role

    admin = await create_actor(app, "flag-admin", {tenant: Role.ADMIN})
    async with admin.client:
        response = await admin.client.get(f"/v1/tenants/{tenant}/flags")
    assert response.status_code == 404  # api.flags is on only for another tenant


async def test_secret_changes_are_audited_without_values(world: World) -> None:
    url = f"/v1/tenants/{world.tenant_a}/secrets/obs-audit-key"
    put = await world.admin.client.put(
        url, json={"value": "super-secret-value-1"}, headers={"X-Request-ID": "obs-secret-put-01"}
    )
    assert put.status_code == 200
    deleted = await world.admin.client.delete(url, headers={"X-Request-ID": "obs-secret-del-01"})
    assert deleted.status_code == 204
    page = await world.admin.client.get(
        f"/v1/tenants/{world.tenant_a}/audit", params={"limit": 200}
    )
    events = {e["request_id"]: e for e in page.json()["events"]}
    assert events["obs-secret-put-01"]["target"] == "obs-audit-key"
    assert events["obs-secret-put-01"]["details"] == {"version": 1}
    assert events["obs-secret-del-01"]["target"] == "obs-audit-key"
    assert events["obs-secret-del-01"]["status_code"] == 204
    assert "super-secret-value-1" not in page.text


async def test_request_log_lines_carry_request_tenant_and_user(
    world: World, json_logs: io.StringIO
) -> None:
    # The default access log keeps failures and slow requests (metrics count the rest).
    ok = await world.admin.client.get(
        f"/v1/tenants/{world.tenant_a}", headers={"X-Request-ID": "obs-log-request-0"}
    )
    assert ok.status_code == 200
    response = await world.admin.client.get(
        f"/v1/tenants/{world.tenant_a}/trees/no-such-tree",
        headers={"X-Request-ID": "obs-log-request-1"},
    )
    assert response.status_code == 404
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "obs-log-request-1"]
    assert access, lines
    line = access[-1]
    assert line["event"] == "http request"
    assert line["route"] == "/v1/tenants/{tenant_id}/trees/{name}"
    assert line["status"] == 404
    assert not any(
        entry.get("request_id") == "obs-log-request-0" and entry.get("event") == "http request"
        for entry in lines
    )
    assert line["tenant_id"] == str(world.tenant_a)
    assert line["user_id"] == f"user:{world.admin.user_id}"
    assert line["duration_ms"] >= 0


async def test_a_request_that_starts_a_run_is_one_trace_to_the_activities(
    observed: Observed, make_settings: Callable[..., Settings], temporal_settings: TemporalSettings
) -> None:
    """The HTTP span is the root; the workflow start and every tool call hang below it."""
    provider = observed.telemetry.tracer_provider
    assert provider is not None
    app = create_app(
        make_settings(temporal=temporal_settings, trusted_proxies=["127.0.0.1/32"]),
        tracer_provider=provider,
    )
    compiled = compile_tree(
        tree(
            {
                "a": tool_node("text_response", {"text": "one"}, next="b"),
                "b": tool_node("echo@^1", {"value": 2}, next="c"),
                "c": tool_node("text_response", {"text": "three"}, next="e"),
                "e": end(),
            },
            name="api-traced",
        ),
        observed.registry,
    )

    async def start_run(request: Request) -> dict[str, Any]:
        """A stand-in for the runs route: the same client and start options it will use."""
        client = await request.app.state.services.temporal.client()
        handle = await start_compiled(client, compiled, tenant="api", task_queue=observed.queue)
        await handle.result()
        return {"id": handle.id}

    app.router.routes.append(
        APIRoute(
            "/v1/test/runs",
            start_run,
            methods=["POST"],
            dependencies=[requires(Permission.PUBLIC)],
        )
    )
    async with (
        app.router.lifespan_context(app),
        live_server(app) as base,
        httpx.AsyncClient(headers={"X-Forwarded-Proto": "https"}) as http,
    ):
        response = await http.post(f"{base}/v1/test/runs")
    assert response.status_code == 200, response.text
    run_id = response.json()["id"]
    spans = observed.exporter.get_finished_spans()
    start = next(
        s
        for s in spans
        if s.name == "StartWorkflow:DecisionTreeWorkflow"
        and (s.attributes or {}).get("temporalWorkflowID") == run_id
    )
    trace = Trace(spans, start.context.trace_id if start.context else None)
    trace.one("POST /v1/test/runs")
    assert trace.ancestors(start)[0] == "POST /v1/test/runs"  # the request's server span
    executed = [s for s in trace.spans if s.name.startswith("RunActivity:")]
    assert sorted(s.name for s in executed) == [
        "RunActivity:echo@1.0.0",
        "RunActivity:text_response@1.0.0",
        "RunActivity:text_response@1.0.0",
    ]
    for span in executed:
        chain = trace.ancestors(span)
        assert chain[1:3] == ["StartWorkflow:DecisionTreeWorkflow", "POST /v1/test/runs"], chain
        assert (span.attributes or {})["treeflow.run_id"] == run_id
