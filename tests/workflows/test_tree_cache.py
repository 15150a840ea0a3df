"""Runs of one tree share its decoded compiled tree (workflows/tree_cache.py)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.registry import ToolRegistry
from temporal_client.run_start import run_request
from workflows.compiled import CompiledTree
from workflows.compiler import compile_tree
from workflows.run_models import RunRequest

TREE = {
    "name": "cached",
    "start": "hello",
    "nodes": {
        "hello": {
            "kind": "tool",
            "tool": "text_response@^1",
            "args": {"text": "hi"},
            "next": "end",
        },
        "end": {"kind": "end"},
    },
}


@pytest.fixture
def compiled(registry: ToolRegistry) -> CompiledTree:
    return compile_tree(TREE, registry)


def decode(payload_data: bytes) -> RunRequest:
    converter = pydantic_data_converter.payload_converter
    [payload] = converter.to_payloads([RunRequest.model_validate_json(payload_data)])
    [request] = converter.from_payloads([payload], [RunRequest])
    assert isinstance(request, RunRequest)
    return request


def test_runs_of_one_tree_share_its_decoded_form(compiled: CompiledTree) -> None:
    first = run_request(compiled, {"a": 1}, "t1").model_dump_json().encode()
    second = run_request(compiled, {"a": 2}, "t2").model_dump_json().encode()
    one, two = decode(first), decode(second)
    assert one.tree is two.tree
    assert one.tree == compiled
    assert (one.inputs, two.inputs, two.tenant_id) == ({"a": 1}, {"a": 2}, "t2")


def test_a_tree_that_differs_in_any_byte_is_its_own(compiled: CompiledTree) -> None:
    renamed = compiled.model_copy(
        update={"spec": compiled.spec.model_copy(update={"description": "other"})}
    )
    one = decode(run_request(compiled, {}, "t").model_dump_json().encode())
    two = decode(run_request(renamed, {}, "t").model_dump_json().encode())
    assert one.tree is not two.tree
    assert (one.tree.hash, two.tree.spec.description) == (compiled.hash, "other")


def test_instances_and_bad_data_take_the_ordinary_path(compiled: CompiledTree) -> None:
    assert RunRequest(tree=compiled).tree is compiled
    data = json.loads(run_request(compiled, {}, "t").model_dump_json())
    del data["tree"]["spec"]["start"]
    with pytest.raises(ValidationError) as caught:
        RunRequest.model_validate_json(json.dumps(data))
    assert [error["loc"] for error in caught.value.errors()] == [("tree", "spec", "start")]
