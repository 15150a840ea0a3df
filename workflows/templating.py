"""Argument templates: JSON values whose strings may hold `{{ expression }}` parts.

A string that is exactly one `{{ expr }}` renders to the expression's value with
its type kept (a list stays a list); any other string with placeholders renders
to text. Dicts and lists are rendered recursively.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from workflows.budgets import MAX_RESULT_SIZE, Budget, BudgetExceeded, json_size, text_size
from workflows.expressions import (
    BudgetError,
    EvaluationError,
    Expression,
    ExpressionSyntaxError,
    parse,
    to_text,
)


class TemplateError(EvaluationError):
    """A placeholder failed to evaluate; `path` says where in the template it sits.

    `over_budget` is set when the cause is a limit of `workflows.budgets`.
    """

    def __init__(self, path: str, detail: str, source: str, *, over_budget: bool = False) -> None:
        super().__init__(f"{path}: {detail}" if path else detail, source)
        self.path = path
        self.detail = detail
        self.over_budget = over_budget


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _whole(text: str) -> str | None:
    match = _PLACEHOLDER.fullmatch(text.strip())
    if match and "{{" not in match.group(1):
        return match.group(1).strip()
    return None


def expressions_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every `(path, expression source)` pair inside a template value."""
    if isinstance(value, str):
        for match in _PLACEHOLDER.finditer(value):
            yield path, match.group(1).strip()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from expressions_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from expressions_in(item, f"{path}[{index}]")


def check(value: Any, path: str = "") -> list[tuple[str, ExpressionSyntaxError]]:
    """Syntax errors of every placeholder, with the path where each sits."""
    problems: list[tuple[str, ExpressionSyntaxError]] = []
    for where, source in expressions_in(value, path):
        try:
            parse(source)
        except ExpressionSyntaxError as exc:
            problems.append((where, exc))
    for where, text in _strings_in(value, path):
        if text.count("{{") != text.count("}}"):
            problems.append((where, ExpressionSyntaxError("unbalanced '{{' / '}}'", text)))
    return problems


def _strings_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside a template value, at any depth, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings_in(item, f"{path}[{index}]")


def parsed_expressions(value: Any, path: str = "") -> Iterator[tuple[str, Expression]]:
    """Parsed placeholders (skips ones that do not parse; `check` reports those)."""
    for where, source in expressions_in(value, path):
        try:
            yield where, parse(source)
        except ExpressionSyntaxError:
            continue


def is_templated(value: Any) -> bool:
    return any(True for _ in expressions_in(value))


def render(
    value: Any,
    scope: Mapping[str, Any],
    path: str = "",
    *,
    budget: Budget | None = None,
    bounded: bool = True,
) -> Any:
    """Render a template value against `scope`. Errors name the failing path.

    Every placeholder spends the one `budget` (a fresh one per call if None);
    `bounded=False` renders as before budgets existed (replays of old histories).
    """
    renderer = _Renderer(scope, (budget or Budget()) if bounded else None)
    return renderer.render(value, path)


class _Renderer:
    def __init__(self, scope: Mapping[str, Any], budget: Budget | None) -> None:
        self.scope = scope
        self.budget = budget

    def render(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            return self.text(value, path)
        if isinstance(value, Mapping):
            return {
                key: self.render(item, f"{path}.{key}" if path else str(key))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.render(item, f"{path}[{index}]") for index, item in enumerate(value)]
        return value

    def text(self, value: str, path: str) -> Any:
        if "{{" not in value:
            return value
        whole = _whole(value)
        if whole is not None:
            return self.evaluate(whole, path, whole_value=True)
        if self.budget is None:
            return _PLACEHOLDER.sub(
                lambda match: to_text(self.evaluate(match.group(1).strip(), path)), value
            )
        pieces: list[str] = []
        size = 0
        last = 0
        for match in _PLACEHOLDER.finditer(value):
            result = self.evaluate(match.group(1).strip(), path)
            size += match.start() - last + self.measure(result, path, match.group(1), text=True)
            self.check_size(size, path, match.group(1).strip())
            pieces.extend((value[last : match.start()], to_text(result)))
            last = match.end()
        pieces.append(value[last:])
        return "".join(pieces)

    def evaluate(self, source: str, path: str, *, whole_value: bool = False) -> Any:
        try:
            expression = parse(source)
            result = expression.evaluate(
                self.scope, budget=self.budget, bounded=self.budget is not None
            )
        except EvaluationError as exc:
            over = isinstance(exc, BudgetError)
            raise TemplateError(path, str(exc), source, over_budget=over) from None
        if whole_value and self.budget is not None and not expression.is_reference():
            self.check_size(self.measure(result, path, source), path, source)
        return result

    def measure(self, value: Any, path: str, source: str, *, text: bool = False) -> int:
        """A lower bound of `value`'s size as JSON (or as text), spending the budget."""
        try:
            if text:
                return text_size(value, MAX_RESULT_SIZE, self.budget)
            return json_size(value, MAX_RESULT_SIZE, self.budget)
        except BudgetExceeded as exc:
            raise TemplateError(path, str(exc), source.strip(), over_budget=True) from None

    def check_size(self, size: int, path: str, source: str) -> None:
        if size > MAX_RESULT_SIZE:
            detail = f"rendered value larger than {MAX_RESULT_SIZE} characters"
            raise TemplateError(path, detail, source, over_budget=True)
