"""Record the history of every template sample into tests/histories/.

Run after a deliberate, versioned change to the interpreter (see
docs/workflow-versioning.md); keep the old files so old histories keep replaying:

    .venv/bin/python -m tests.support.record_histories
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from temporalio.client import Client

import templates
from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from tests.support.samples import child_ids, expectation_failures, run_sample
from treeflow.devserver import DevServer, free_port
from treeflow.exit import exit_now
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.temporal_config import TemporalSettings

OUT = Path(__file__).resolve().parents[1] / "histories"
INDEX = "index.json"  # history file stem -> workflow id (replay needs the real id)


async def record(out: Path) -> int:
    out.mkdir(exist_ok=True)
    index: dict[str, str] = {}
    registry = ToolRegistry.discover()
    with DevServer(port=free_port(), ui_port=None).running() as server:
        settings = TemporalSettings(address=server.address, task_queue="record")
        client = await Client.connect(**settings.connect_kwargs())
        async with (
            ToolHost(registry).running() as host,
            build_worker(client, WorkerSettings(), "record", host),
        ):
            for template in templates.all_templates():
                for sample in template.samples:
                    if not await record_sample(client, registry, template, sample, out, index):
                        return 1
    (out / INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return 0


async def record_sample(
    client: Client,
    registry: ToolRegistry,
    template: templates.Template,
    sample: templates.Sample,
    out: Path,
    index: dict[str, str],
) -> bool:
    """Run one sample, check it, and write its history (and its children's)."""
    result, handle = await run_sample(client, registry, template, sample, "record")
    failures = expectation_failures(sample, result)
    if failures:
        print(f"{template.name}/{sample.name}: {failures}", file=sys.stderr)
        return False
    stem = f"{template.name}__{sample.name}"
    (out / f"{stem}.json").write_text((await handle.fetch_history()).to_json())
    index[stem] = handle.id
    for number, child in enumerate(await child_ids(handle)):
        child_stem = f"{stem}__child{number}"
        history = await client.get_workflow_handle(child).fetch_history()
        (out / f"{child_stem}.json").write_text(history.to_json())
        index[child_stem] = child
    print(f"recorded {stem}")
    return True


if __name__ == "__main__":
    exit_now(asyncio.run(record(OUT)))
