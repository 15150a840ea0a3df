"""The tool configuration of test workers (and of the history recorder).

Template samples run against it: the retrieval tools use an embedded store holding
the demo tickets, and the decision agent answers from the samples' scripted rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import templates
from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import load_demo


async def demo_store(path: Path) -> Path:
    """An embedded store at `path` holding the demo tickets (loaded once)."""
    backend = EmbeddedBackend(path)
    try:
        if "SupportTickets" not in await backend.list_collections():
            await load_demo(backend)
    finally:
        await backend.close()
    return path


def tool_config(store: Path) -> dict[str, Any]:
    """Config for a `ToolHost` that runs every template sample offline."""
    return {
        "defaults": {"retrieval": {"kind": "embedded", "path": str(store)}},
        "http_request": {"allowed_hosts": ["127.0.0.1"]},
        "declarative_http": {"allowed_hosts": ["127.0.0.1"]},
        "llm_decision": {"llm": {"provider": "scripted", "script": templates.model_script()}},
    }
