"""`llm_decision@2`: the decision agent. A language model picks the next branch and, for
tools that accept it, writes their arguments.

Each step (Elysia's decision loop):

1. Options are the branches the workflow offers; each branch's tool is asked whether
   it is available now (`ToolDirectory.availability`) and what the agent should know
   (collection fields, say). Unavailable branches are dropped, with the reason.
2. The model sees the goal, the prompt, the options (description, tool, fixed
   arguments, the input schema of tools whose arguments it writes), the tasks done
   so far and the errors of earlier tool calls, and answers JSON (`AgentDecision`).
3. The answer is validated: the branch must be one of the options (a hallucinated
   name is re-asked at most twice, then the decision fails non-retryably) and written
   arguments, merged over the node's fixed ones, must fit the tool's input model.
4. `end` and `impossible` end the run; token usage and cost are in `usage`.

Without a configured model it routes by keywords (like `router`) and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from activities.builtin.decision_options import available_options
from activities.builtin.router import route
from activities.contracts import DecisionInput, DecisionOption, DecisionOutput
from activities.declarative.model import InputSchema, SchemaCheckedArguments, input_model
from activities.llm import Message, ProviderPool, complete_structured, llm_config, total_usage
from activities.llm.structured import validation_problem
from activities.sdk import ToolContext, tool

MAX_CONTEXT_CHARS = 3000


class AgentDecision(BaseModel):
    """The decision agent's answer."""

    reasoning: str = Field(description="Why, in one or two sentences.")
    choice: str | None = Field(
        default=None, description="Id of the branch to take; null when end or impossible."
    )
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="Arguments for the chosen branch's tool, only when it accepts them.",
    )
    end: bool = Field(default=False, description="The goal is met: stop here.")
    impossible: bool = Field(
        default=False, description="The goal cannot be met with the available branches."
    )


@tool(
    name="llm_decision",
    version="2.0.0",
    kind="decision",
    timeout=timedelta(seconds=180),
)
class DecisionAgent:
    """Ask a language model which branch to take next and, for tools that accept it, to
    write their arguments; it sees the goal, earlier results and earlier errors."""

    def __init__(self) -> None:
        self._models = ProviderPool()

    async def startup(self, config: Mapping[str, Any]) -> None:
        llm_config(config)  # a bad config fails the worker's start, not the first run

    async def shutdown(self) -> None:
        await self._models.close()

    async def run(self, args: DecisionInput, ctx: ToolContext) -> DecisionOutput:
        options, hints, dropped = await available_options(args, ctx)
        if not options:
            return DecisionOutput(
                impossible=True,
                reasoning="no branch is available: " + "; ".join(dropped),
            )
        offered = args.model_copy(update={"options": options})
        provider = await self._models.get(llm_config(ctx.config), ctx)
        if provider is None:
            fallback = route(offered)
            fallback.reasoning = (
                f"no language model configured; keyword routing: {fallback.reasoning}"
            )
            return fallback
        models = {o.id: argument_model(o, ctx) for o in options if o.accepts_args}
        by_id = {o.id: o for o in options}

        def check(answer: AgentDecision) -> str | None:
            return decision_problem(answer, by_id, models)

        result = await complete_structured(
            provider,
            prompt(offered, hints, dropped, models),
            AgentDecision,
            tier="base",
            check=check,
            max_reasks=2,
        )
        answer = result.value
        usage = total_usage(result.usage) | {"reasks": result.reasks}
        if answer.end or answer.impossible:
            return DecisionOutput(
                reasoning=answer.reasoning,
                end=answer.end,
                impossible=answer.impossible,
                usage=usage,
            )
        assert answer.choice is not None
        written = written_args(answer, by_id[answer.choice], models.get(answer.choice))
        return DecisionOutput(
            choice=answer.choice, reasoning=answer.reasoning, args=written, usage=usage
        )


def argument_model(option: DecisionOption, ctx: ToolContext) -> type[BaseModel] | None:
    """The input model the agent's arguments for this option must fit."""
    if option.tool and ctx.tools is not None:
        spec = ctx.tools.spec(option.tool)
        if spec is not None:
            return spec.input_model
    if option.args_schema is not None:
        return input_model(InputSchema.model_validate(option.args_schema), f"{option.id}_args")
    return None


def decision_problem(
    answer: AgentDecision,
    options: Mapping[str, DecisionOption],
    models: Mapping[str, type[BaseModel] | None],
) -> str | None:
    """What is wrong with an answer (told to the model when re-asking), or None."""
    if answer.end or answer.impossible:
        return None
    choice = answer.choice
    if choice is None or choice not in options:
        listed = ", ".join(options)
        return (
            f"'{choice}' is not an available branch; choose one of: {listed} "
            "(or set end / impossible)"
        )
    option = options[choice]
    if not answer.args:
        model = models.get(choice)
        if model is None:
            return None
        return _args_problem(model, option, {})
    if not option.accepts_args:
        return f"branch '{choice}' takes no arguments; leave args empty"
    if option.writable_args:
        extra = sorted(set(answer.args) - set(option.writable_args))
        if extra:
            return f"you may only write {option.writable_args} for '{choice}', not {extra}"
    model = models.get(choice)
    if model is None:
        return None
    return _args_problem(model, option, answer.args)


def _args_problem(
    model: type[BaseModel], option: DecisionOption, written: Mapping[str, Any]
) -> str | None:
    try:
        validated_args(model, option, written)
    except ValidationError as exc:
        return "invalid args: " + "; ".join(
            f"args.{part}" for part in validation_problem(exc).split("; ")
        )
    return None


def validated_args(
    model: type[BaseModel], option: DecisionOption, written: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``written`` arguments, validated and coerced to JSON values.

    The tool's whole input is checked (fixed plus written arguments) unless the tree
    fills some arguments from templates: their values exist only when the tool runs,
    so they count as provided, each written argument is checked on its own, and the
    tool checks the rendered whole (its errors reach the next decision).
    """
    if not option.templated_args:
        validated = model.model_validate({**option.args, **written}).model_dump(mode="json")
        return {key: validated.get(key, value) for key, value in written.items()}
    if issubclass(model, SchemaCheckedArguments):
        model.check_given(written)  # JSON Schema: the values stay as written
        return dict(written)
    fields = model.model_fields
    errors: list[InitErrorDetails] = []
    coerced: dict[str, Any] = {}
    for key, value in written.items():
        field = fields.get(key)
        if field is None:
            coerced[key] = value  # the model decides about unknown keys at run time
            continue
        annotated: Any = Annotated[field.annotation, field]
        adapter: TypeAdapter[Any] = TypeAdapter(annotated)
        try:
            coerced[key] = adapter.dump_python(adapter.validate_python(value), mode="json")
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            error["type"], error["msg"].replace("{", "{{").replace("}", "}}")
                        ),
                        loc=(key, *error["loc"]),
                        input=error.get("input"),
                    )
                )
    if errors:
        raise ValidationError.from_exception_data(model.__name__, errors)
    return coerced


def written_args(
    answer: AgentDecision, option: DecisionOption, model: type[BaseModel] | None
) -> dict[str, Any]:
    """The arguments the agent wrote, as validated (coerced) JSON values."""
    if not answer.args or not option.accepts_args:
        return {}
    if model is None:
        return dict(answer.args)
    return validated_args(model, option, answer.args)


def _clip(data: Any) -> str:
    text = json.dumps(data, default=str)
    return text if len(text) <= MAX_CONTEXT_CHARS else text[:MAX_CONTEXT_CHARS] + "…"


def conversation_lines(conversation: Any) -> list[str]:
    """The earlier turns of the conversation a run answers, as the agent reads them."""
    if not isinstance(conversation, dict) or not conversation.get("turns"):
        return []
    lines = [f"Earlier turns of this conversation (this is turn {conversation.get('turn')}):"]
    for turn in conversation["turns"]:
        lines.append(
            f"- turn {turn.get('turn')}: user: {turn.get('message')!r}; "
            f"answer: {_clip(turn.get('answer'))}"
        )
    last = conversation.get("last") or {}
    if last.get("state") or last.get("results"):
        data = {"state": last.get("state"), "results": last.get("results")}
        lines.append(f"Data of turn {last.get('turn')}: {_clip(data)}")
    return lines


def _branch_lines(
    args: DecisionInput,
    hints: Mapping[str, str],
    models: Mapping[str, type[BaseModel] | None],
) -> list[str]:
    """Each available branch: its text, tool, fixed and writable arguments, context."""
    lines = ["Available branches:"]
    for option in args.options:
        lines.append(f"- id: {option.id}: {option.description or '(no description)'}")
        if option.tool:
            lines.append(f"  tool: {option.tool}")
        if option.args:
            lines.append(f"  fixed arguments: {_clip(option.args)}")
        if option.templated_args:
            lines.append(f"  filled by the tree when it runs: {', '.join(option.templated_args)}")
        model = models.get(option.id)
        if option.accepts_args and model is not None:
            writable = option.writable_args or "any"
            lines.append(
                f"  you write its arguments in `args` (writable: {writable}); JSON Schema: "
                + json.dumps(model.model_json_schema(), separators=(",", ":"))
            )
        if option.id in hints:
            lines.append(f"  context: {hints[option.id]}")
    return lines


def _history_lines(args: DecisionInput) -> list[str]:
    """What the run did so far and the errors its tools reported."""
    if not args.tasks_completed:
        lines = ["Completed so far: nothing yet."]
    else:
        lines = ["Completed so far:"]
        for number, task in enumerate(args.tasks_completed, 1):
            what = f"{task.get('kind')}" + (f", {task['tool']}" if task.get("tool") else "")
            status = "ok" if task.get("ok", True) else "FAILED"
            lines.append(
                f"{number}. node {task.get('node')} ({what}) {status}: {task.get('summary', '')}"
            )
    if args.errors:
        lines.append("Errors from earlier tool calls (fix the arguments or choose another branch):")
        for tool_name, messages in args.errors.items():
            lines.extend(f"- {tool_name}: {message}" for message in messages[-3:])
    return lines


def prompt(
    args: DecisionInput,
    hints: Mapping[str, str],
    dropped: list[str],
    models: Mapping[str, type[BaseModel] | None],
) -> list[Message]:
    """The conversation that asks for one decision."""
    lines = [f"Goal: {args.instruction or 'Help the user.'}", f"User prompt: {args.prompt}", ""]
    lines += _branch_lines(args, hints, models)
    if dropped:
        lines.append("Unavailable now: " + "; ".join(dropped))
    lines.append("")
    lines += _history_lines(args)
    run_data = {k: v for k, v in args.context.items() if k != "conversation"}
    lines += conversation_lines(args.context.get("conversation"))
    if run_data:
        lines.append(f"Run data: {_clip(run_data)}")
    return [
        Message(
            role="system",
            content="You are the decision agent of a Treeflow run. Choose the branch that best "
            "moves the goal forward; set end when the goal is met, impossible when no branch "
            "can meet it. Reply with one JSON object: reasoning, choice, args, end, impossible.",
        ),
        Message(role="user", content="\n".join(lines)),
    ]
