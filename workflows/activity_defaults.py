"""Activity options every tool and decision call gets unless its node says otherwise.

One place for these numbers; docs/tree-authoring.md ("Timeouts and heartbeats") is
where users read them.
"""

from __future__ import annotations

DEFAULT_TOOL_TIMEOUT_SECONDS = 60.0
"""Start-to-close timeout of a call whose node, tree defaults and tool set none."""

DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 10.0
"""Heartbeat timeout of every call whose node and tool set none.

The worker's tool host heartbeats for every running tool (see
`activities.runtime`), so a call whose worker died is retried on another worker
about this long after the death, instead of after the whole start-to-close timeout.
"""

MIN_HEARTBEAT_TIMEOUT_SECONDS = 1.0
MAX_HEARTBEAT_TIMEOUT_SECONDS = 3600.0
"""Bounds of a node's `heartbeat_timeout` override."""
