"""Evaluating a run's templates and rules so that the tree can only fail the run, never the task.

An exception that escapes workflow code fails the workflow *task*, which Temporal
retries forever: the run would stay "running" with no way out. So every failure
of a tree's own expressions (syntax, types, budgets, or anything else they raise)
becomes a non-retryable `ApplicationError` naming the node path, which fails the
run cleanly.

One `Budget` covers all evaluation between two waits of the run (a tool, a child
run, a timer, user input), so a chain of in-workflow nodes cannot add up to a
workflow task that trips Temporal's deadlock detector. Budgets were added after
histories had been recorded: where one is exceeded, `workflow.patched` tells a new
run (fail) from the replay of an older one (evaluate as it was, without budgets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.budgets import Budget
from workflows.expressions import BudgetError, EvaluationError, ExpressionError, parse
from workflows.templating import TemplateError, render

BUDGETS_PATCH = "tf-0001-expression-budgets"


class RunEvaluator:
    """Templates and rules of one run, with the budget they share."""

    def __init__(self) -> None:
        self.budget = Budget()

    def waited(self) -> None:
        """The run waited on Temporal: evaluation starts a new budget."""
        self.budget = Budget()

    def render(self, value: Any, scope: Mapping[str, Any], path: str) -> Any:
        """`value` rendered; any failure is a `TemplateError` run failure at `path`."""
        try:
            try:
                return render(value, scope, path, budget=self.budget)
            except TemplateError as exc:
                if exc.over_budget and not workflow.patched(BUDGETS_PATCH):
                    return render(value, scope, path, bounded=False)
                raise
        except TemplateError as exc:
            raise ApplicationError(str(exc), type="TemplateError", non_retryable=True) from None
        except Exception as exc:
            raise _failure(path, exc, "TemplateError") from None

    def rule(self, source: str, scope: Mapping[str, Any], path: str) -> bool:
        """The truth of a rule; any failure is a `RuleError` run failure at `path`."""
        try:
            expression = parse(source)
            try:
                return bool(expression.evaluate(scope, budget=self.budget))
            except BudgetError:
                if workflow.patched(BUDGETS_PATCH):
                    raise
                return bool(expression.evaluate(scope, bounded=False))
        except (EvaluationError, ExpressionError) as exc:
            raise ApplicationError(f"{path}: {exc}", type="RuleError", non_retryable=True) from None
        except Exception as exc:
            raise _failure(path, exc, "RuleError") from None


def _failure(path: str, exc: Exception, error_type: str) -> ApplicationError:
    return ApplicationError(
        f"{path}: {type(exc).__name__}: {exc}", type=error_type, non_retryable=True
    )
