"""Which tools a tenant may use: `tool.<name>` and `tool.<name>.<x.y.z>` flags.

Tools are allowed unless a flag says otherwise: a defined flag that is off for
the run's context blocks the tool (all versions) or that one version. Checked
where a run starts, against the compiled tree's pinned tools.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from foundation.flags.client import FlagClient, FlagContext


def tool_flags(activity_name: str) -> tuple[str, str]:
    """The flag names gating `name@x.y.z`: the tool, then the exact version."""
    name, _, version = activity_name.partition("@")
    return f"tool.{name}", f"tool.{name}.{version}"


@dataclass(frozen=True, slots=True)
class BlockedTool:
    node: str
    tool: str
    flag: str

    def __str__(self) -> str:
        return f"nodes.{self.node}: {self.tool} is not enabled for this tenant (flag {self.flag})"


class ToolsNotEnabled(PermissionError):
    """A tree uses tools that flags switch off for the tenant."""

    def __init__(self, blocked: list[BlockedTool]) -> None:
        self.blocked = blocked
        super().__init__("; ".join(str(b) for b in blocked))


def blocked_tools(
    flags: FlagClient, pins: Iterable[tuple[str, str]], context: FlagContext
) -> list[BlockedTool]:
    """`(node, name@x.y.z)` pins whose tool or version a flag turns off for `context`."""
    blocked = []
    for node, activity in pins:
        for flag in tool_flags(activity):
            if flags.known(flag) and not flags.enabled(flag, context):
                blocked.append(BlockedTool(node=node, tool=activity, flag=flag))
                break
    return blocked


def require_tools(flags: FlagClient, pins: Iterable[tuple[str, str]], context: FlagContext) -> None:
    """Raise `ToolsNotEnabled` naming every blocked node."""
    blocked = blocked_tools(flags, pins, context)
    if blocked:
        raise ToolsNotEnabled(blocked)
