"""Argument templates: JSON values whose strings may hold `{{ expression }}` parts.

A string that is exactly one `{{ expr }}` renders to the expression's value with
its type kept (a list stays a list); any other string with placeholders renders
to text. Dicts and lists are rendered recursively.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from workflows.expressions import (
    EvaluationError,
    Expression,
    ExpressionSyntaxError,
    parse,
    to_text,
)


class TemplateError(EvaluationError):
    """A placeholder failed to evaluate; `path` says where in the template it sits."""

    def __init__(self, path: str, detail: str, source: str) -> None:
        super().__init__(f"{path}: {detail}" if path else detail, source)
        self.path = path
        self.detail = detail


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


def render(value: Any, scope: Mapping[str, Any], path: str = "") -> Any:
    """Render a template value against `scope`. Errors name the failing path."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        whole = _whole(value)
        if whole is not None:
            return _evaluate(whole, scope, path)
        return _PLACEHOLDER.sub(
            lambda match: to_text(_evaluate(match.group(1).strip(), scope, path)), value
        )
    if isinstance(value, Mapping):
        return {
            key: render(item, scope, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [render(item, scope, f"{path}[{index}]") for index, item in enumerate(value)]
    return value


def _evaluate(source: str, scope: Mapping[str, Any], path: str) -> Any:
    try:
        return parse(source).evaluate(scope)
    except EvaluationError as exc:
        raise TemplateError(path, str(exc), source) from None
