"""Errors a tool raises; each maps to a retryable or non-retryable Temporal failure."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class ToolError(Exception):
    """Base for tool failures. Retryable unless a subclass says otherwise.

    `details` travel with the failure into the workflow (keep them small and free
    of secrets); `retry_after_seconds` asks Temporal to wait that long before the
    next attempt (for example after an HTTP 429).
    """

    retryable: bool = True

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.retry_after_seconds = retry_after_seconds

    @property
    def error_type(self) -> str:
        """The failure type name recorded in history (`ApplicationError.type`)."""
        return type(self).__name__


class RetryableToolError(ToolError):
    """A transient failure: Temporal retries it under the node's retry policy."""


class ToolUnavailable(RetryableToolError):
    """A dependency (database, HTTP service, model endpoint) is down or overloaded."""


class NonRetryableToolError(ToolError):
    """A failure that no retry can fix: the node fails at once."""

    retryable = False


def invalid_config(section: str, exc: ValidationError) -> NonRetryableToolError:
    """A tool configuration section that does not validate, naming each field by its
    path (`llm.tiers.base.model: Field required`)."""
    problems = "; ".join(
        f"{section}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)
    )
    return NonRetryableToolError(f"invalid {section} configuration: {problems}")


class InvalidToolInput(NonRetryableToolError):
    """The arguments do not fit the tool's input model."""


class ToolNotAllowed(NonRetryableToolError):
    """Policy forbids the call (a host outside the allow-list, a disabled tool...)."""


class ToolNotFound(NonRetryableToolError):
    """No tool is registered under the requested `name@version`."""
