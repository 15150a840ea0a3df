"""Every template compiles, and every sample runs end to end with the expected result."""

from __future__ import annotations

import pytest
from temporalio.client import Client

import templates
from activities.registry import ToolRegistry
from tests.support.samples import expectation_failures, run_conversation, run_sample, turn_failures
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


def each_sample(cases: list[tuple[templates.Template, templates.Sample]]) -> pytest.MarkDecorator:
    """Parametrize a test over (template, sample) pairs, named `template/sample`."""
    return pytest.mark.parametrize(
        ("template", "sample"), cases, ids=[f"{t.name}/{s.name}" for t, s in cases]
    )


@each_sample(CASES)
async def test_sample_runs_offline(
    client: Client,
    registry: ToolRegistry,
    worker: str,
    template: templates.Template,
    sample: templates.Sample,
) -> None:
    result, _ = await run_sample(client, registry, template, sample, worker)
    assert expectation_failures(sample, result) == []


CONVERSATIONS = [(t, s) for t, s in CASES if s.follow_ups]


def test_the_ticket_agent_holds_a_follow_up() -> None:
    assert ("ticket-agent", "open-billing") in {(t.name, s.name) for t, s in CONVERSATIONS}


@each_sample(CONVERSATIONS)
async def test_follow_ups_answer_from_the_earlier_turns(
    client: Client,
    registry: ToolRegistry,
    worker: str,
    template: templates.Template,
    sample: templates.Sample,
) -> None:
    """The sample's question, then its follow-ups, as one conversation on the real worker."""
    turns, _ = await run_conversation(client, registry, template, sample, worker)
    expectations = [sample.expect, *(f.expect for f in sample.follow_ups)]
    assert [turn_failures(e, t) for e, t in zip(expectations, turns, strict=True)] == [
        [] for _ in turns
    ]
