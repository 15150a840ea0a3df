"""Property tests: compiling is deterministic; the hash follows meaning, not form."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.registry import ToolRegistry
from tests.support.tools import TEST_TOOLS
from workflows.compiler import compile_tree

REGISTRY = ToolRegistry.discover().add(TEST_TOOLS)
values = st.one_of(st.integers(-5, 5), st.text("abc", max_size=4), st.booleans(), st.none())


@st.composite
def trees(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid tree: a chain of tools, maybe a rule decision and a loop."""
    length = draw(st.integers(1, 5))
    ids = [f"n{i}" for i in range(length)]
    nodes: dict[str, Any] = {}
    for index, node_id in enumerate(ids):
        nxt = ids[index + 1] if index + 1 < length else "done"
        nodes[node_id] = {
            "kind": "tool",
            "tool": draw(st.sampled_from(["echo", "echo@^1", "add@1"])),
            "next": nxt,
            "description": draw(st.text(max_size=8)),
        }
        if nodes[node_id]["tool"].startswith("add"):
            nodes[node_id]["args"] = {"a": draw(st.integers(0, 9)), "b": draw(st.integers(0, 9))}
        else:
            nodes[node_id]["args"] = {"value": draw(values)}
        if draw(st.booleans()):
            nodes[node_id]["retry"] = {"max_attempts": draw(st.integers(1, 5))}
    if draw(st.booleans()):
        nodes["gate"] = {
            "kind": "decision",
            "max_passes": draw(st.integers(1, 4)),
            "branches": [
                {"to": ids[0], "when": f"passes.gate < {draw(st.integers(1, 3))}"},
                {"to": "done"},
            ],
        }
        nodes[ids[-1]]["next"] = "gate"
    nodes["done"] = {"kind": "end", "output": {"x": "{{ run.steps }}"}}
    return {
        "name": "prop",
        "version": draw(st.sampled_from(["1.0.0", "2.0.0"])),
        "description": draw(st.text(max_size=10)),
        "start": ids[0],
        "nodes": nodes,
    }


def _reordered(doc: dict[str, Any]) -> dict[str, Any]:
    shuffled = dict(reversed(list(doc.items())))
    shuffled["nodes"] = dict(reversed(list(doc["nodes"].items())))
    return shuffled


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(trees())
def test_compile_is_deterministic(doc: dict[str, Any]) -> None:
    first = compile_tree(doc, REGISTRY)
    second = compile_tree(copy.deepcopy(doc), REGISTRY)
    assert first == second
    assert first.hash == second.hash


@common
@given(trees(), st.text(max_size=12), st.sampled_from(["0.0.1", "9.9.9"]))
def test_form_changes_keep_the_hash(doc: dict[str, Any], text: str, version: str) -> None:
    base = compile_tree(doc, REGISTRY).hash
    cosmetic = _reordered(copy.deepcopy(doc))
    cosmetic["description"] = text
    cosmetic["version"] = version
    cosmetic["name"] = "renamed"
    for node in cosmetic["nodes"].values():
        node["description"] = text
        if node["kind"] == "tool":
            node["summary"] = text
    assert compile_tree(cosmetic, REGISTRY).hash == base
    as_yaml = yaml.safe_dump(doc, sort_keys=False)
    as_json = json.dumps(doc, indent=3)
    assert compile_tree(as_yaml, REGISTRY).hash == base
    assert compile_tree(as_json, REGISTRY).hash == base


@common
@given(trees(), st.data())
def test_meaning_changes_change_the_hash(doc: dict[str, Any], data: st.DataObject) -> None:
    base = compile_tree(doc, REGISTRY).hash
    changed = copy.deepcopy(doc)
    tool_ids = [n for n, node in changed["nodes"].items() if node["kind"] == "tool"]
    target = changed["nodes"][data.draw(st.sampled_from(tool_ids))]
    change = data.draw(st.sampled_from(["arg", "retry", "timeout", "output", "tool"]))
    if change == "arg":
        key = next(iter(target["args"]))
        old = target["args"][key]
        target["args"][key] = data.draw(
            values.filter(lambda v: v != old and type(v) is type(old))
            if key == "value" and old is not None
            else st.integers(10, 99)
        )
    elif change == "retry":
        attempts = target.get("retry", {}).get("max_attempts", 3)
        target["retry"] = {"max_attempts": attempts + 1}
    elif change == "timeout":
        target["timeout"] = "17s"
    elif change == "output":
        changed["nodes"]["done"]["output"] = {"y": "{{ run.steps }}"}
    else:
        target["tool"] = "add@1" if not target["tool"].startswith("add") else "echo"
        target["args"] = {"a": 1, "b": 2} if target["tool"] == "add@1" else {"value": 1}
    assert compile_tree(changed, REGISTRY).hash != base, change
