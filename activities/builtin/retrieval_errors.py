"""Retrieval errors as tool errors: the backend says whether a retry can help."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from activities.backends import BackendError, UnknownProperty
from activities.errors import NonRetryableToolError, ToolError, ToolUnavailable


def as_tool_error(exc: BackendError) -> ToolError:
    """`BackendUnavailable` -> retryable `ToolUnavailable`; everything else non-retryable.

    The message is the backend's, written to be fed back to the decision agent.
    """
    if exc.retryable:
        return ToolUnavailable(str(exc))
    details: dict[str, object] = {"error": type(exc).__name__}
    if isinstance(exc, UnknownProperty):
        details.update(property=exc.property, valid=exc.valid)
    return NonRetryableToolError(str(exc), details=details)


@contextlib.contextmanager
def backend_errors() -> Iterator[None]:
    """Translate backend errors raised inside the block."""
    try:
        yield
    except BackendError as exc:
        raise as_tool_error(exc) from exc
