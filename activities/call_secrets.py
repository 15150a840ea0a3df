"""The secret resolver one tool call sees: scoped to the tool, remembered for scrubbing.

The tool host gives every call a fresh :class:`CallSecrets`. It asks the worker's
resolver for the value on behalf of the calling tool (so a secret's tool policy
applies), and it adds each value it hands out to the call's
:class:`~foundation.secrets.scrub.SecretScrubber`, which the host then applies to
everything the call returns, raises, heartbeats or logs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from activities.sdk import SecretResolver
from foundation.secrets.scrub import SecretScrubber


@runtime_checkable
class ToolScopedResolver(Protocol):
    """A resolver that can answer on behalf of a named tool (see `StoreSecretResolver`)."""

    def for_tool(self, tool: str) -> SecretResolver: ...


class CallSecrets:
    """A `SecretResolver` for one call of tool `tool` that remembers what it resolved."""

    def __init__(self, resolver: SecretResolver, tool: str) -> None:
        # What `isinstance(resolver, ToolScopedResolver)` checks, without the protocol
        # check's cost (~150 us on every tool call: bench/overhead.py, py-spy).
        for_tool = getattr(resolver, "for_tool", None)
        self._resolver = for_tool(tool) if callable(for_tool) else resolver
        self.scrubber = SecretScrubber()

    def __repr__(self) -> str:
        return f"CallSecrets({self.scrubber!r})"

    async def __call__(self, tenant_id: str, name: str) -> str:
        value = await self._resolver(tenant_id, name)
        self.scrubber.add(name, value)
        return value
