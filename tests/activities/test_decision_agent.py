"""llm_decision@2 with the scripted model and a real ToolHost as its tool directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import load_demo
from activities.builtin.decision_agent import DecisionAgent, prompt
from activities.builtin.router import EmbeddingRouter
from activities.contracts import DecisionInput, DecisionOption
from activities.llm import InvalidModelOutput
from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from activities.sdk import ToolContext


@pytest.fixture(scope="module")
async def host(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ToolHost]:
    path = tmp_path_factory.mktemp("agent") / "store"
    loader = EmbeddedBackend(path)
    await load_demo(loader)
    await loader.close()
    tools = ToolHost(
        ToolRegistry.discover(),
        config={"defaults": {"retrieval": {"kind": "embedded", "path": str(path)}}},
    )
    async with tools.running():
        yield tools


OPTIONS = [
    DecisionOption(
        id="search",
        description="find tickets",
        tool="query@1.0.0",
        args={"collection": "SupportTickets", "limit": 5},
        accepts_args=True,
        writable_args=["query", "filters", "limit", "mode"],
    ),
    DecisionOption(id="answer", description="write the answer", tool="text_response@1.0.0"),
]
QUESTION = "Why do users get locked out after login?"


def _input(**extra: Any) -> DecisionInput:
    return DecisionInput(
        instruction="Answer support questions from the ticket data.",
        prompt=extra.pop("prompt", QUESTION),
        options=extra.pop("options", OPTIONS),
        **extra,
    )


async def decide(host: ToolHost, rules: list[dict[str, Any]], args: DecisionInput) -> Any:
    agent = DecisionAgent()
    config = {"llm": {"provider": "scripted", "script": rules}}
    await agent.startup(config)
    try:
        ctx = ToolContext.for_testing(DecisionAgent, config=config, tools=host)
        return await agent.run(args, ctx)
    finally:
        await agent.shutdown()


SEARCH = {
    "reasoning": "look for lockout tickets",
    "choice": "search",
    "args": {"query": "account locked after login", "limit": "3"},
}


async def test_the_agent_picks_a_branch_and_writes_validated_arguments(host: ToolHost) -> None:
    out = await decide(host, [{"contains": ["locked out"], "reply": SEARCH}], _input())
    assert out.choice == "search"
    assert out.args == {"query": "account locked after login", "limit": 3}  # coerced by the model
    assert out.usage["total_tokens"] > 0
    assert out.usage["cost_usd"] == 0.0
    assert out.usage["reasks"] == 0
    assert out.usage["calls"][0]["tier"] == "base"


async def test_the_prompt_shows_schema_hints_tasks_and_earlier_errors(host: ToolHost) -> None:
    args = _input(
        tasks_completed=[{"node": "search", "kind": "tool", "tool": "query@1.0.0", "ok": False}],
        errors={"query": ["Unknown property 'colour' in collection 'SupportTickets'"]},
    )
    rules = [
        {
            "contains": [
                "Unknown property 'colour'",  # the earlier error
                "node search (tool, query@1.0.0) FAILED",  # the task record
                '"maximum":100',  # the query input schema, for writing arguments
                "priority (text)",  # the availability hint: the collection's fields
            ],
            "reply": SEARCH,
        },
        {"contains": [], "reply": {"reasoning": "prompt lacked context", "end": True}},
    ]
    out = await decide(host, rules, args)
    assert out.choice == "search", out.reasoning


async def test_a_hallucinated_branch_is_re_asked(host: ToolHost) -> None:
    rules = [
        {"contains": ["'lookup' is not an available branch"], "reply": SEARCH},
        {"contains": [], "reply": {"reasoning": "x", "choice": "lookup"}},
    ]
    out = await decide(host, rules, _input())
    assert out.choice == "search"
    assert out.usage["reasks"] == 1
    assert len(out.usage["calls"]) == 2


async def test_a_branch_hallucinated_three_times_fails_clearly(host: ToolHost) -> None:
    rules = [{"contains": [], "reply": {"reasoning": "x", "choice": "lookup"}}]
    with pytest.raises(InvalidModelOutput) as info:
        await decide(host, rules, _input())
    assert not info.value.retryable
    assert "no valid answer in 3 attempts" in info.value.message
    assert (
        "'lookup' is not an available branch; choose one of: search, answer" in info.value.message
    )


async def test_invalid_arguments_are_re_asked_with_the_field(host: ToolHost) -> None:
    rules = [
        {"contains": ["args.limit: Input should be less than or equal to 100"], "reply": SEARCH},
        {"contains": [], "reply": {**SEARCH, "args": {"query": "locked", "limit": 1000}}},
    ]
    out = await decide(host, rules, _input())
    assert out.args["limit"] == 3


async def test_arguments_outside_writable_ones_are_refused(host: ToolHost) -> None:
    rules = [
        {"contains": ["you may only write"], "reply": SEARCH},
        {"contains": [], "reply": {**SEARCH, "args": {"collection": "Other", "query": "x"}}},
    ]
    out = await decide(host, rules, _input())
    assert "collection" not in out.args


@pytest.mark.parametrize("flag", ["end", "impossible"])
async def test_end_and_impossible_pass_through(host: ToolHost, flag: str) -> None:
    out = await decide(
        host, [{"contains": [], "reply": {"reasoning": "done", flag: True}}], _input()
    )
    assert getattr(out, flag) is True
    assert out.choice is None


async def test_unavailable_tools_are_not_offered(host: ToolHost) -> None:
    missing = OPTIONS[0].model_copy(update={"args": {"collection": "Nope"}})
    args = _input(options=[missing, OPTIONS[1]])
    rules = [
        {
            "contains": ["Unavailable now: search (collection 'Nope' does not exist"],
            "reply": {"reasoning": "only answer left", "choice": "answer"},
        }
    ]
    out = await decide(host, rules, args)
    assert out.choice == "answer"
    nothing = await decide(host, rules, _input(options=[missing]))
    assert nothing.impossible
    assert "does not exist" in nothing.reasoning


async def test_without_a_model_it_routes_by_keywords(host: ToolHost) -> None:
    agent = DecisionAgent()
    await agent.startup({})
    out = await agent.run(
        _input(prompt="please write the answer"),
        ToolContext.for_testing(DecisionAgent, tools=host),
    )
    assert out.choice == "answer"
    assert out.reasoning.startswith("no language model configured; keyword routing")


async def test_a_branch_without_description_is_described_by_its_tool(host: ToolHost) -> None:
    bare = OPTIONS[1].model_copy(update={"description": ""})
    rules = [
        {
            "contains": ["- id: answer: Reply to the user with text."],
            "reply": {"reasoning": "x", "choice": "answer"},
        }
    ]
    out = await decide(host, rules, _input(options=[OPTIONS[0], bare]))
    assert out.choice == "answer"


def test_the_prompt_says_when_nothing_was_done_yet() -> None:
    messages = prompt(_input(), {}, [], {})
    assert "Completed so far: nothing yet." in messages[1].content
    assert messages[0].role == "system"


def test_the_prompt_shows_the_earlier_turns_of_a_conversation() -> None:
    conversation = {
        "id": "c-1",
        "turn": 2,
        "turns": [
            {"turn": 1, "message": "How many billing tickets are open?", "answer": {"n": 12}}
        ],
        "last": {"turn": 1, "state": {"ticket_filters": {"property": "category"}}, "results": {}},
    }
    context = {"inputs": {"question": "and refunds?"}, "conversation": conversation}
    content = prompt(_input(context=context), {}, [], {})[1].content
    assert "Earlier turns of this conversation (this is turn 2):" in content
    assert "- turn 1: user: 'How many billing tickets are open?'; answer: {\"n\": 12}" in content
    assert 'Data of turn 1: {"state": {"ticket_filters": {"property": "category"}}' in content
    run_data = next(line for line in content.splitlines() if line.startswith("Run data:"))
    assert "conversation" not in run_data


def test_a_plain_run_s_prompt_has_no_conversation_lines() -> None:
    content = prompt(_input(context={"inputs": {"q": 1}}), {}, [], {})[1].content
    assert "Earlier turns" not in content
    assert 'Run data: {"inputs": {"q": 1}}' in content


async def test_router_blends_embeddings_with_bm25(host: ToolHost) -> None:
    router = EmbeddingRouter()
    await router.startup({"embeddings": "hashing", "embedding_weight": 0.5})
    options = [
        DecisionOption(id="billing", description="refunds, invoices and payments"),
        DecisionOption(id="bugs", description="errors, crashes and failures"),
    ]
    args = DecisionInput(prompt="the refund for my invoice", options=options)
    out = await router.run(args, ToolContext.for_testing(EmbeddingRouter, tools=host))
    assert out.choice == "billing"
    assert "blended" in out.reasoning
    assert 0 < out.scores["billing"] <= 1.0


async def test_router_without_the_extra_is_plain_bm25(tmp_path: Path) -> None:
    router = EmbeddingRouter()
    await router.startup({"embeddings": "off"})
    args = DecisionInput(
        prompt="app crashes",
        options=[DecisionOption(id="a", description="crashes"), DecisionOption(id="b")],
    )
    out = await router.run(args, ToolContext.for_testing(EmbeddingRouter))
    assert out.choice == "a"
    assert "bm25" in out.reasoning


TEMPLATED = DecisionOption(
    id="search",
    description="find tickets",
    tool="query@1.0.0",
    args={"limit": 5},  # `collection` (required) is templated in the tree
    accepts_args=True,
    writable_args=["query", "limit"],
    templated_args=["collection"],
)


@pytest.mark.parametrize(
    ("written", "expected"),
    [({}, {}), ({"query": "lockout", "limit": "2"}, {"query": "lockout", "limit": 2})],
)
async def test_templated_required_arguments_count_as_provided(
    host: ToolHost, written: dict[str, Any], expected: dict[str, Any]
) -> None:
    reply = {"reasoning": "search", "choice": "search", "args": written}
    out = await decide(
        host, [{"contains": [QUESTION], "reply": reply}], _input(options=[TEMPLATED])
    )
    assert out.choice == "search"
    assert out.args == expected


async def test_the_prompt_says_which_arguments_the_tree_fills(host: ToolHost) -> None:
    messages = prompt(_input(options=[TEMPLATED]), {}, [], {})
    assert "filled by the tree when it runs: collection" in messages[1].content


async def test_templated_arguments_still_check_what_the_agent_writes(host: ToolHost) -> None:
    reply = {"reasoning": "search", "choice": "search", "args": {"limit": "many"}}
    with pytest.raises(InvalidModelOutput, match=r"args\.limit"):
        await decide(host, [{"contains": [QUESTION], "reply": reply}], _input(options=[TEMPLATED]))


DECLARATIVE_SCHEMA = {
    "properties": {"term": {"type": "string"}, "limit": {"type": "integer", "maximum": 10}},
    "required": ["term"],
}


@pytest.mark.parametrize("templated", [[], ["term"]])
async def test_declarative_arguments_are_checked_as_json_schema_and_kept_as_written(
    host: ToolHost, templated: list[str]
) -> None:
    """A tenant tool's arguments fit its JSON Schema strictly: "3" is re-asked, not
    coerced, with or without arguments the tree fills from templates."""
    option = DecisionOption(
        id="lookup",
        description="look a term up",
        tool="lookup@1.0.0",  # a tenant tool: the worker's registry does not know it
        args={} if templated else {"term": "lockout"},
        accepts_args=True,
        writable_args=["limit"],
        templated_args=templated,
        args_schema=DECLARATIVE_SCHEMA,
    )
    rules = [
        {
            "contains": ["args.limit: expected integer, got str"],
            "reply": {"reasoning": "r", "choice": "lookup", "args": {"limit": 4}},
        },
        {"contains": [], "reply": {"reasoning": "r", "choice": "lookup", "args": {"limit": "3"}}},
    ]
    out = await decide(host, rules, _input(options=[option]))
    assert out.args == {"limit": 4}  # the re-asked answer: "3" was not coerced
