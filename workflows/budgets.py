"""Evaluation budgets: how much work and memory one expression or template may use.

Expressions run inside workflow tasks, where a slow or huge evaluation trips
Temporal's deadlock detector or exhausts the worker, and the task would fail again
on every retry. So every operation that builds or walks a value checks its budget
*before* allocating, and exceeding one raises `BudgetExceeded`, which the
interpreter turns into a clean run failure naming the node path. The limits are
documented in docs/tree-authoring.md ("Expression budgets").

Sizes are lower bounds of the value's compact JSON text (every character of a
string, one per number, item and separator), counted through shared references
(`[[1] * 300] * 100000` counts 3 * 10^7), and the walk that measures them stops as
soon as a limit is passed, so measuring costs at most the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_SIZE = 100_000
"""Characters of a string or items of a list that one operation may build."""

MAX_BUILT_SIZE = 1_000_000
"""JSON size of a list built by repetition (`[x] * n`), counted through its items."""

MAX_STEPS = 200_000
"""Steps of one evaluation: one per expression node plus one per item an operation walks."""

MAX_RESULT_SIZE = 2_000_000
"""JSON size of a value a template produces (Temporal's payload limit is 2 MB)."""


class BudgetExceeded(ValueError):
    """An evaluation would pass one of the limits above."""


class Budget:
    """The steps left to one evaluation."""

    __slots__ = ("steps",)

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.steps = steps

    def spend(self, steps: int) -> None:
        self.steps -= steps
        if self.steps < 0:
            raise BudgetExceeded(f"evaluation exceeded its budget of {MAX_STEPS} steps")


def json_size(value: Any, limit: int, budget: Budget | None = None) -> int:
    """A lower bound of `value`'s compact JSON length, or `limit + 1` once it passes `limit`.

    Each item visited costs one step of `budget` (when given), so the walk is bounded
    by both the limit and the budget.
    """
    size = 0
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if budget is not None:
            budget.spend(1)
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, Mapping):
            size += 2 + len(item) + max(len(item) - 1, 0)  # braces, colons, commas
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            size += 1 + max(len(item), 1)  # brackets and commas
            pending.extend(item)
        else:
            size += 1
        if size > limit:
            return limit + 1
    return size


def text_size(value: Any, limit: int, budget: Budget | None = None) -> int:
    """A lower bound of the length of `value` rendered as text (strings unquoted)."""
    if isinstance(value, str):
        return len(value)
    if value is None:
        return 0
    return json_size(value, limit, budget)
