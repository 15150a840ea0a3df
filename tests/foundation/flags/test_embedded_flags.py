"""The embedded flag backend: a flags file, tool gates, rollout routing, flag listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from foundation.flags.client import FlagClient, FlagContext
from foundation.flags.gates import ToolsNotEnabled, blocked_tools, require_tools, tool_flags
from foundation.flags.rollout import decide_rollout, rollout_flag
from foundation.flags.settings import DEFAULT_FLAGS_FILE, FlagSettings


def feature(
    name: str, enabled: bool = True, strategy: dict[str, Any] | None = None
) -> dict[str, Any]:
    strategies = [strategy or {"name": "default", "parameters": {}}]
    return {"name": name, "type": "release", "enabled": enabled, "strategies": strategies}


def only_for(tenants: list[str]) -> dict[str, Any]:
    return {
        "name": "default",
        "parameters": {},
        "constraints": [{"contextName": "tenantId", "operator": "IN", "values": tenants}],
    }


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    path.write_text(
        json.dumps(
            {
                "version": 2,
                "features": [
                    feature("tool.http_request", strategy=only_for(["acme"])),
                    feature("tool.summarize.1.0.0", enabled=False),
                    feature(
                        rollout_flag("triage"),
                        strategy={
                            "name": "flexibleRollout",
                            "parameters": {
                                "rollout": "50",
                                "stickiness": "sessionId",
                                "groupId": "g",
                            },
                        },
                    ),
                    feature(rollout_flag("all-in"), strategy=only_for(["acme"])),
                ],
            }
        )
    )
    return path


@pytest.fixture
def flags(flags_file: Path, tmp_path: Path) -> Iterator[FlagClient]:
    with FlagClient(FlagSettings(file=flags_file, cache_dir=tmp_path / "cache")) as client:
        yield client


def test_the_packaged_default_file_loads_without_a_server() -> None:
    with FlagClient(FlagSettings()) as client:
        assert client.mode == "embedded"
        values = {v.name: v for v in client.evaluate_all(FlagContext("acme", user_id="u1"))}
    assert DEFAULT_FLAGS_FILE.exists()
    assert values["api.flags"].enabled is True
    assert values["tool.http_request"].enabled is True
    assert values["tree.support-triage.rollout"].enabled is False
    assert values["api.flags"].description


def test_tool_gates_follow_tenant_constraints_and_version_flags(flags: FlagClient) -> None:
    assert tool_flags("summarize@1.0.0") == ("tool.summarize", "tool.summarize.1.0.0")
    pins = [("fetch", "http_request@1.0.0"), ("sum", "summarize@1.0.0"), ("say", "echo@1.0.0")]
    acme = blocked_tools(flags, pins, FlagContext("acme"))
    other = blocked_tools(flags, pins, FlagContext("globex"))
    assert [(b.node, b.flag) for b in acme] == [("sum", "tool.summarize.1.0.0")]
    assert [(b.node, b.flag) for b in other] == [
        ("fetch", "tool.http_request"),
        ("sum", "tool.summarize.1.0.0"),
    ]
    with pytest.raises(ToolsNotEnabled) as refused:
        require_tools(flags, pins, FlagContext("globex"))
    assert "nodes.fetch: http_request@1.0.0 is not enabled" in str(refused.value)
    require_tools(flags, [("say", "echo@1.0.0")], FlagContext("globex"))  # unknown flag: allowed


def test_percentage_rollout_is_sticky_per_run_key(flags: FlagClient) -> None:
    def arm(key: str) -> str:
        decision = decide_rollout(
            flags,
            "triage",
            stable="1.0.0",
            candidate="2.0.0",
            context=FlagContext("acme", session_id=key),
        )
        assert decision is not None
        return decision.arm

    arms = {key: arm(key) for key in (f"run-{i}" for i in range(60))}
    assert set(arms.values()) == {"stable", "candidate"}
    assert 10 < sum(a == "candidate" for a in arms.values()) < 50
    assert all(arm(key) == value for key, value in arms.items())  # same key, same arm


def test_rollout_records_flag_arm_and_version(flags: FlagClient) -> None:
    acme = decide_rollout(
        flags, "all-in", stable="1.0.0", candidate="2.0.0", context=FlagContext("acme")
    )
    globex = decide_rollout(
        flags, "all-in", stable="1.0.0", candidate="2.0.0", context=FlagContext("globex")
    )
    assert acme is not None
    assert acme.record() == {"flag": "tree.all-in.rollout", "arm": "candidate", "version": "2.0.0"}
    assert globex is not None
    assert globex.record() == {"flag": "tree.all-in.rollout", "arm": "stable", "version": "1.0.0"}
    none = decide_rollout(
        flags, "no-flag", stable="1.0.0", candidate="2.0.0", context=FlagContext("a")
    )
    assert none is None
    without_candidate = decide_rollout(
        flags, "all-in", stable="1.0.0", candidate=None, context=FlagContext("acme")
    )
    assert without_candidate is not None
    assert without_candidate.arm == "stable"


async def test_embedded_backend_is_ready(flags: FlagClient) -> None:
    outcome = await flags.check()
    assert isinstance(outcome, tuple)
    assert outcome[0] == "ok"
    assert "embedded" in outcome[1]
