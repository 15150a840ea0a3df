"""Starting a run of a compiled tree from a test, as the API would."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from temporalio.client import Client, WorkflowHandle

from temporal_client.run_start import run_request, start_options
from workflows.compiled import CompiledTree
from workflows.workflow import DecisionTreeWorkflow


async def start_compiled(
    client: Client,
    compiled: CompiledTree,
    *,
    tenant: str = "tests",
    task_queue: str,
    inputs: Mapping[str, Any] | None = None,
) -> WorkflowHandle[Any, Any]:
    """Start a run the way the API does (request, start options, search attributes),
    with a fresh workflow id `<tenant>:<hex>`."""
    return await client.start_workflow(
        DecisionTreeWorkflow.run,
        run_request(compiled, dict(inputs or {}), tenant),
        **start_options(
            compiled,
            tenant_id=tenant,
            workflow_id=f"{tenant}:{uuid.uuid4().hex}",
            task_queue=task_queue,
        ),
    )
