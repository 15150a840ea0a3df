"""Treeflow: decision trees compiled into durable Temporal workflows with versioned tools.

The public tool SDK, for authors of tools:

    from treeflow import tool, ToolContext, NonRetryableToolError
"""

from activities.errors import (
    InvalidToolInput,
    NonRetryableToolError,
    RetryableToolError,
    ToolError,
    ToolNotAllowed,
    ToolUnavailable,
)
from activities.sdk import CallInfo, ToolContext, tool

__all__ = [
    "CallInfo",
    "InvalidToolInput",
    "NonRetryableToolError",
    "RetryableToolError",
    "ToolContext",
    "ToolError",
    "ToolNotAllowed",
    "ToolUnavailable",
    "tool",
]
