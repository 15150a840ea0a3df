"""Record the history of template samples into tests/histories/.

Run after adding a template or sample, or after a deliberate, versioned change to
the interpreter (see docs/workflow-versioning.md). Existing files are kept (they
are the proof that old runs still replay); only samples without a history are
recorded, unless `--stem-suffix` records every sample again under new names. The
re-runs in `RERUNS` (a sample run, then a re-run of it from a node that reuses the
earlier results) are recorded as `<template>__<sample>__rerun`:

    .venv/bin/python -m tests.support.record_histories [--stem-suffix __v2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

import templates
from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from temporal_client.connection import TemporalSettings
from temporal_client.run_history import read_run_history
from temporal_client.run_start import run_request, start_options
from tests.support.samples import (
    child_ids,
    expectation_failures,
    run_conversation,
    run_sample,
    turn_failures,
)
from tests.support.tool_config import demo_store, tool_config
from treeflow.devserver import DevServer, free_port
from treeflow.exit import exit_now
from treeflow.toolbox import compile_text
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.conversation import ConversationWorkflow
from workflows.workflow import DecisionTreeWorkflow

RERUNS = (("support-triage", "double-charge", "billing_reply"),)
"""(template, sample, from_node): re-runs whose histories prove reuse replays."""
OUT = Path(__file__).resolve().parents[1] / "histories"
CONVERSATIONS = "conversations"  # ConversationWorkflow histories (their own replay test)
INDEX = "index.json"  # history file stem -> workflow id (replay needs the real id)


@dataclass
class Recording:
    """What every recorder takes: the Temporal client and tools the samples run with,
    the folder histories go to and the index of their workflow ids."""

    client: Client
    registry: ToolRegistry
    out: Path
    index: dict[str, str]

    async def keep(self, stem: str, handle: WorkflowHandle[Any, Any]) -> None:
        """Write the run's history as ``<stem>.json`` and index its workflow id."""
        (self.out / f"{stem}.json").write_text((await handle.fetch_history()).to_json())
        self.index[stem] = handle.id


async def record(out: Path, suffix: str = "") -> int:
    out.mkdir(exist_ok=True)
    index_file = out / INDEX
    index: dict[str, str] = json.loads(index_file.read_text()) if index_file.exists() else {}
    registry = ToolRegistry.discover()
    with (
        tempfile.TemporaryDirectory() as scratch,
        DevServer(port=free_port(), ui_port=None).running() as server,
    ):
        store = await demo_store(Path(scratch) / "store")
        settings = TemporalSettings(address=server.address, task_queue="record")
        client = await Client.connect(**settings.connect_kwargs())
        recording = Recording(client, registry, out, index)
        async with (
            ToolHost(registry, config=tool_config(store)).running() as host,
            build_worker(client, WorkerSettings(), "record", host),
        ):
            for template in templates.all_templates():
                for sample in template.samples:
                    stem = f"{template.name}__{sample.name}{suffix}"
                    if (out / f"{stem}.json").exists():
                        continue
                    if not await record_sample(recording, template, sample, stem):
                        return 1
            for name, sample_name, from_node in RERUNS:
                stem = f"{name}__{sample_name}__rerun{suffix}"
                if not (out / f"{stem}.json").exists():
                    rerun = (name, sample_name, from_node)
                    await record_rerun(recording, rerun, suffix)
            for template in templates.all_templates():
                for sample in template.samples:
                    stem = f"{template.name}__{sample.name}{suffix}"
                    if not sample.follow_ups or (out / CONVERSATIONS / f"{stem}.json").exists():
                        continue
                    if not await record_conversation(recording, template, sample, stem):
                        return 1
    index_file.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return 0


async def record_sample(
    recording: Recording, template: templates.Template, sample: templates.Sample, stem: str
) -> bool:
    """Run one sample, check it, and write its history (and its children's)."""
    client = recording.client
    result, handle = await run_sample(client, recording.registry, template, sample, "record")
    failures = expectation_failures(sample, result)
    if failures:
        print(f"{template.name}/{sample.name}: {failures}", file=sys.stderr)
        return False
    await recording.keep(stem, handle)
    for number, child in enumerate(await child_ids(handle)):
        await recording.keep(f"{stem}__child{number}", client.get_workflow_handle(child))
    print(f"recorded {stem}")
    return True


async def record_rerun(recording: Recording, rerun: tuple[str, str, str], suffix: str = "") -> None:
    """Run a sample, re-run it from `from_node` reusing what it recorded, and write the
    re-run's history (which holds no activity for the reused steps)."""
    name, sample_name, from_node = rerun
    client, registry = recording.client, recording.registry
    template = templates.load(name)
    sample = next(s for s in template.samples if s.name == sample_name)
    _result, origin = await run_sample(client, registry, template, sample, "record")
    history = await read_run_history(client, origin.id, origin.first_execution_run_id or "")
    compiled = compile_text(template.text, registry)
    request = run_request(compiled, history.request.inputs, "samples").model_copy(
        update={"rerun": history.rerun_plan(from_node)}
    )
    handle = await client.start_workflow(
        DecisionTreeWorkflow.run,
        request,
        **start_options(
            compiled,
            tenant_id="samples",
            workflow_id=f"{origin.id}-rerun",
            task_queue="record",
            rerun_of={
                "id": origin.id.split(":", 1)[1],
                "workflow_id": origin.id,
                "run_id": origin.first_execution_run_id,
                "from_node": from_node,
            },
        ),
    )
    result = await handle.result()
    failures = expectation_failures(sample, result)
    if failures:
        raise SystemExit(f"{name}/{sample_name} re-run: {failures}")
    stem = f"{name}__{sample_name}__rerun{suffix}"
    await recording.keep(stem, handle)
    print(f"recorded {stem}")


async def record_conversation(
    recording: Recording, template: templates.Template, sample: templates.Sample, stem: str
) -> bool:
    """Run a sample with follow-ups as a conversation, end it, and write its history
    (under conversations/) and each turn's run history (beside the samples')."""
    client = recording.client
    turns, wf_id = await run_conversation(client, recording.registry, template, sample, "record")
    expectations = [sample.expect, *(f.expect for f in sample.follow_ups)]
    failures = [turn_failures(e, t) for e, t in zip(expectations, turns, strict=True)]
    if any(failures):
        print(f"{template.name}/{sample.name} conversation: {failures}", file=sys.stderr)
        return False
    handle = client.get_workflow_handle_for(ConversationWorkflow.run, wf_id)
    await handle.execute_update(ConversationWorkflow.end)
    await handle.result()
    folder = recording.out / CONVERSATIONS
    folder.mkdir(exist_ok=True)
    (folder / f"{stem}.json").write_text((await handle.fetch_history()).to_json())
    conversation_index = folder / INDEX
    known = json.loads(conversation_index.read_text()) if conversation_index.exists() else {}
    known[stem] = wf_id
    conversation_index.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    for turn in turns:
        await recording.keep(
            f"{stem}__turn{turn.turn}", client.get_workflow_handle(turn.workflow_id)
        )
    print(f"recorded the conversation {stem}")
    return True


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stem-suffix", default="", help="record every sample under new names")
    exit_now(asyncio.run(record(OUT, parser.parse_args().stem_suffix)))
