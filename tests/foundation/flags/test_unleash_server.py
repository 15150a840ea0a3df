"""Flags against the real Unleash 8 server: run routing follows toggles; outages degrade."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes

from activities.registry import ToolRegistry
from foundation.flags.client import FlagClient, FlagContext
from foundation.flags.rollout import decide_rollout, rollout_flag
from foundation.flags.settings import FlagSettings
from foundation.telemetry.health import run_checks
from temporal_client.run_start import run_request, start_options
from tests.support.temporal_fixtures import compile_for_tests
from tests.support.unleash import private_unleash, shared_unleash, wait_until
from treeflow.devserver import free_port
from workflows import search_attributes
from workflows.compiled import CompiledTree
from workflows.workflow import DecisionTreeWorkflow

REFRESH = 1  # seconds between the client's fetches


def version_tree(name: str, version: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "start": "say",
        "nodes": {
            "say": {
                "kind": "tool",
                "tool": "text_response",
                "args": {"text": version},
                "next": "e",
            },
            "e": {"kind": "end", "output": {"version": "{{ results.say.text }}"}},
        },
    }


@pytest.fixture
async def server_flags(tmp_path: Path) -> AsyncIterator[FlagClient]:
    url, _, token = shared_unleash()
    client = FlagClient(
        FlagSettings(url=url, token=token, refresh_interval=REFRESH, cache_dir=tmp_path / "c")
    )
    await asyncio.to_thread(client.start)
    try:
        yield client
    finally:
        await asyncio.to_thread(client.stop)


async def start_routed(
    client: Client,
    queue: str,
    flags: FlagClient,
    versions: dict[str, CompiledTree],
    tenant: str,
) -> tuple[str, Mapping[str, Any], TypedSearchAttributes]:
    """The run-start path: decide the version, then start with the decision recorded."""
    key = uuid.uuid4().hex
    stable = versions["1.0.0"]
    decision = decide_rollout(
        flags,
        stable.name,
        stable="1.0.0",
        candidate="2.0.0",
        context=FlagContext(tenant, user_id="u-1", session_id=key),
    )
    assert decision is not None
    compiled = versions[decision.version]
    handle = await client.start_workflow(
        DecisionTreeWorkflow.run,
        run_request(compiled, {}, tenant),
        **start_options(
            compiled,
            tenant_id=tenant,
            workflow_id=f"{tenant}:{key}",
            task_queue=queue,
            rollout=decision.record(),
        ),
    )
    result = await handle.result()
    described = await handle.describe()
    memo = await described.memo()
    return result.output["version"], memo, described.typed_search_attributes


async def test_run_routing_follows_a_flag_toggled_through_the_admin_api(
    server_flags: FlagClient, client: Client, worker: str, registry: ToolRegistry
) -> None:
    _, admin, _ = shared_unleash()
    tree = f"rt-{uuid.uuid4().hex[:8]}"
    versions = {v: compile_for_tests(version_tree(tree, v), registry) for v in ("1.0.0", "2.0.0")}
    flag = admin.create_flag(name=rollout_flag(tree))
    try:
        await wait_until(lambda: server_flags.known(flag))
        version, memo, attributes = await start_routed(
            client, worker, server_flags, versions, "acme"
        )
        assert version == "1.0.0"
        assert memo["rollout"] == {"flag": flag, "arm": "stable", "version": "1.0.0"}
        assert memo["tree_version"] == "1.0.0"
        assert attributes.get(search_attributes.TREE_ROLLOUT) == "stable"

        admin.switch(flag, on=True)  # adds a 100 % flexibleRollout strategy
        took = await wait_until(
            lambda: server_flags.enabled(flag, FlagContext("acme", tree=tree, session_id="k"))
        )
        assert took < REFRESH + 5  # one refresh interval plus the server's ~1 s cache
        version, memo, attributes = await start_routed(
            client, worker, server_flags, versions, "acme"
        )
        assert version == "2.0.0"
        assert memo["rollout"] == {"flag": flag, "arm": "candidate", "version": "2.0.0"}
        assert attributes.get(search_attributes.TREE_ROLLOUT) == "candidate"
        assert attributes.get(search_attributes.TREE_VERSION) == "2.0.0"

        admin.switch(flag, on=False)
        await wait_until(
            lambda: not server_flags.enabled(flag, FlagContext("acme", tree=tree, session_id="k"))
        )
        version, memo, _ = await start_routed(client, worker, server_flags, versions, "acme")
        assert version == "1.0.0"
        assert memo["rollout"]["arm"] == "stable"
    finally:
        admin.delete(flag)


async def test_an_outage_keeps_the_last_flags_and_degrades_readiness(tmp_path: Path) -> None:
    _, admin, token = shared_unleash()
    flag = admin.create_flag("api.outage-")
    admin.switch(flag, on=True)
    try:
        with private_unleash(free_port(), tmp_path / "unleash.log") as private:
            flags = FlagClient(
                FlagSettings(
                    url=private.url, token=token, refresh_interval=REFRESH, cache_dir=tmp_path / "c"
                )
            )
            await asyncio.to_thread(flags.start)
            try:
                context = FlagContext("acme")
                await wait_until(lambda: flags.enabled(flag, context))
                healthy = await run_checks({"flags": flags.check})
                assert healthy.status == "ok"

                private.stop()  # the server goes away
                await asyncio.sleep(REFRESH * 3)  # several failed refreshes
                assert flags.enabled(flag, context) is True  # last known flags still served
                report = await run_checks({"flags": flags.check})
                assert report.status == "degraded"
                assert report.http_status == 200  # degraded is still ready
                check = report.checks[0]
                assert check.status == "degraded"
                assert "serving last known flags" in check.detail
                assert check.latency_ms >= 0
            finally:
                await asyncio.to_thread(flags.stop)
    finally:
        admin.delete(flag)
