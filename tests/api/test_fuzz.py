"""Schemathesis against the OpenAPI document the server serves (unpatched), over real
HTTP: >= 5,000 generated requests (valid and invalid), and not one 5xx. Every error must
be problem+json."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from schemathesis.core.result import Ok

from api.db.models import Role
from api.services import Services
from api.settings import Settings
from temporal_client.connection import TemporalSettings
from tests.api.conftest import create_actor, create_tenant, live_server

MIN_REQUESTS = 5_000
EXAMPLES_HEADROOM = 1.25
"""Examples per operation and mode are set so that all operations together send
MIN_REQUESTS with this margin (some operations have nothing to negate): the request
count, not the time, stays fixed as the API grows."""
FUZZ_TIMEOUT_SECONDS = 1200
"""Over 5,000 real HTTP requests: minutes on an idle machine, far more on a loaded one."""
STREAM_READ_TIMEOUT = 5.0
"""A run event stream stays open by design (keep-alives every 15 s): its answer is read
this long, then left open (tests/api/test_run_events.py covers the stream itself)."""


def _fuzz(base: str, token: str, tenant: uuid.UUID) -> tuple[int, list[str]]:
    """Run every operation in positive and negative mode; return (requests, failures)."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
    served = session.get(f"{base}/openapi.json", headers=headers, timeout=30)
    served.raise_for_status()
    schema = schemathesis.openapi.from_dict(served.json())  # as served: no patching
    sent = 0
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    # Fuzzed tenant settings can set a tiny tenant rate limit: run that operation last.
    operations.sort(key=lambda op: op.method.upper() == "PUT" and op.path.endswith("/settings"))
    examples_per_mode = math.ceil(MIN_REQUESTS * EXAMPLES_HEADROOM / (2 * len(operations)))
    for operation in operations:
        path_parameters = {"tenant_id": str(tenant)} if "{tenant_id}" in operation.path else None
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @hypothesis.settings(
                max_examples=examples_per_mode,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @hypothesis.given(case=strategy)
            def run(case: Any) -> None:
                nonlocal sent
                streaming = case.operation.path.endswith("/events")
                options = {"timeout": STREAM_READ_TIMEOUT} if streaming else {}
                try:
                    response = case.call(base_url=base, session=session, headers=headers, **options)
                except requests.exceptions.ReadTimeout:
                    if not streaming:
                        raise
                    sent += 1
                    statuses[200] += 1  # the stream was answered and stayed open
                    return
                sent += 1
                where = f"{case.method} {case.formatted_path} -> {response.status_code}"
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(where + " " + response.text[:200])
                elif response.status_code >= 400:
                    values = response.headers.get("content-type") or [""]
                    content_type = values[0] if isinstance(values, list) else values
                    if content_type != "application/problem+json":
                        failures.append(f"{where}: not problem+json ({content_type})")

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to negate in this operation
    session.close()
    assert statuses[429] < sent // 20, f"rate limits throttled the fuzzing: {statuses}"
    # Most generated requests must get past validation into the handlers: a success, or
    # the handler's own answer about what it looked up (nothing of that id, a conflict).
    handled = sum(n for code, n in statuses.items() if code < 300 or code in (404, 409))
    assert handled > sent // 4, statuses
    return sent, failures


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
async def test_schemathesis_finds_no_server_errors(
    start_app: Callable[[Settings], Awaitable[FastAPI]],
    make_settings: Callable[..., Settings],
    temporal_settings: TemporalSettings,
) -> None:
    # A reachable Temporal: /readyz answers 503 by design when a dependency is down.
    app = await start_app(
        make_settings(trusted_proxies=["127.0.0.1/32"], temporal=temporal_settings)
    )
    services: Services = app.state.services
    tenant = await create_tenant(services, "fuzz")
    actor = await create_actor(app, "fuzzer", {tenant: Role.ADMIN}, operator=True)
    await actor.client.aclose()
    async with live_server(app) as base:
        sent, failures = await asyncio.to_thread(_fuzz, base, actor.token, tenant)
    assert not failures, f"{len(failures)} bad answers, first: {failures[:5]}"
    assert sent >= MIN_REQUESTS, f"only {sent} requests generated"
    print(f"schemathesis sent {sent} requests")
