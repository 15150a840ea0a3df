"""Every template compiles, and every sample runs end to end with the expected result."""

from __future__ import annotations

import pytest
from temporalio.client import Client

import templates
from activities.registry import ToolRegistry
from tests.support.samples import expectation_failures, run_sample
from treeflow.toolbox import compile_text

CASES = [(t, s) for t in templates.all_templates() for s in t.samples]


def test_there_are_at_least_three_templates_with_samples() -> None:
    assert len(templates.names()) >= 3
    assert all(templates.load(name).samples for name in templates.names())


def test_one_template_loops_with_a_decision_after_each_tool(registry: ToolRegistry) -> None:
    compiled = compile_text(templates.load("document-digest").text, registry)
    decision = compiled.spec.nodes["next_step"]
    tool = compiled.spec.nodes["digest_section"]
    assert decision.kind == "decision"
    assert decision.max_passes == 8
    assert tool.kind == "tool"
    assert tool.next == "next_step"


def test_unknown_template_names_are_clear() -> None:
    with pytest.raises(templates.UnknownTemplate, match="available: document-digest"):
        templates.load("nope")


@pytest.mark.parametrize(
    ("template", "sample"), CASES, ids=[f"{t.name}/{s.name}" for t, s in CASES]
)
async def test_sample_runs_offline(
    client: Client,
    registry: ToolRegistry,
    worker: str,
    template: templates.Template,
    sample: templates.Sample,
) -> None:
    result, _ = await run_sample(client, registry, template, sample, worker)
    assert expectation_failures(sample, result) == []
