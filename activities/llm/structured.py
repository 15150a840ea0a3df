"""Structured output: ask for JSON, validate it with pydantic, re-ask on a bad answer.

A model's answer is parsed (code fences tolerated), validated against a pydantic
model and then checked by the caller (for example "is this branch one of the
options?"). A bad answer is shown back to the model with what was wrong, at most
`max_reasks` times; then the call fails with `InvalidModelOutput` (non-retryable).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from activities.llm.base import InvalidModelOutput, LLMProvider, Message, Tier, Usage

T = TypeVar("T", bound=BaseModel)
Check = Callable[[T], str | None]
"""Returns a problem to tell the model about, or None when the answer is acceptable."""

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


@dataclass
class Structured(Generic[T]):
    """A validated answer, plus every call it took (re-asks included)."""

    value: T
    usage: list[Usage] = field(default_factory=list)
    reasks: int = 0


def parse_json(text: str) -> Any:
    """JSON from a model's text: the whole text, a fenced block, or the outermost object."""
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1)
    try:
        return json.loads(candidate)
    except json.JSONDecodeError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if 0 <= start < end:
            return json.loads(candidate[start : end + 1])
        raise


def validation_problem(exc: ValidationError) -> str:
    """Pydantic errors as `field: problem` lines a model (or a person) can act on."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(answer)'}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)
    )


async def complete_structured(
    provider: LLMProvider,
    messages: Sequence[Message],
    model: type[T],
    *,
    tier: Tier = "base",
    check: Check[T] | None = None,
    max_reasks: int = 2,
    schema_name: str | None = None,
) -> Structured[T]:
    """Ask until the answer validates and passes `check`, at most `1 + max_reasks` calls."""
    conversation = list(messages)
    schema = model.model_json_schema()
    usage: list[Usage] = []
    problem = ""
    for attempt in range(max_reasks + 1):
        completion = await provider.complete(
            conversation, tier=tier, json_schema=schema, schema_name=schema_name or model.__name__
        )
        usage.append(completion.usage)
        problem = _problem(completion.text, model, check)
        if not problem:
            value = model.model_validate(parse_json(completion.text))
            return Structured(value=value, usage=usage, reasks=attempt)
        conversation += [
            Message(role="assistant", content=completion.text[:4000]),
            Message(
                role="user",
                content=f"Your answer was rejected: {problem}\n"
                "Answer again with one JSON object that fixes this.",
            ),
        ]
    raise InvalidModelOutput(
        f"the model gave no valid answer in {max_reasks + 1} attempts; last problem: {problem}",
        details={"problem": problem[:500], "attempts": max_reasks + 1},
    )


def _problem(text: str, model: type[T], check: Check[T] | None) -> str:
    try:
        data = parse_json(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg})"
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        return validation_problem(exc)
    if check is not None:
        return check(value) or ""
    return ""
