"""`treeflow run` and friends: ordinary errors are one clean message and exit code 1, and a
re-used `--id` shows or follows the run that holds it instead of claiming a new start."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client

from tests.cli.test_cli import REPO, TREEFLOW
from tests.support.trees import greeting_tree, tree_file, yes_no
from treeflow.devserver import DevServer, free_port

GREETING = greeting_tree("cli-greeting", "hi")
WAITING = {
    "name": "cli-waiting",
    "start": "ask",
    "nodes": {
        "ask": yes_no("Go?", "done"),
        "done": {"kind": "end"},
    },
}


async def treeflow(*args: str, **env: str) -> tuple[int, str, str]:
    """Run the real command without blocking the loop (the session worker lives in it)."""
    process = await asyncio.create_subprocess_exec(
        TREEFLOW,
        *args,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200", **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def assert_clean(code: int, out: str, err: str, *expected: str) -> None:
    assert code == 1, (out, err)
    assert "Traceback" not in out + err, err
    for text in expected:
        assert text in err, err


@pytest.fixture
def on_server(dev_server: DevServer, worker: str) -> dict[str, str]:
    return {"TREEFLOW_TEMPORAL_ADDRESS": dev_server.address, "TREEFLOW_TEMPORAL_TASK_QUEUE": worker}


async def test_a_tree_that_does_not_compile(tmp_path: Path) -> None:
    bad = tree_file(
        tmp_path / "bad.yaml",
        """
        name: bad
        start: a
        nodes:
          a: {kind: tool, tool: nosuch, next: b}
        """,
    )
    assert_clean(
        *await treeflow("run", str(bad)),
        "2 problem(s)",
        "nodes.a.tool: unknown tool 'nosuch'",
        "nodes.a.next: unknown node 'b'",
    )


async def test_unknown_templates_samples_and_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00name: x\x80\x81")
    assert_clean(*await treeflow("run", "no-such-template"), "unknown template 'no-such-template'")
    assert_clean(
        *await treeflow("run", "support-triage", "--sample", "nope"), "has no sample 'nope'"
    )
    assert_clean(*await treeflow("run", str(binary)), "not UTF-8")
    assert_clean(*await treeflow("compile", str(binary)), "not UTF-8")
    inputs = tmp_path / "inputs.json"
    inputs.write_text("{not json")
    assert_clean(*await treeflow("run", "support-triage", "--inputs-file", str(inputs)))


async def test_temporal_out_of_reach_is_a_clean_error() -> None:
    unreachable = f"127.0.0.1:{free_port()}"
    code, out, err = await treeflow("run", "support-triage", TREEFLOW_TEMPORAL_ADDRESS=unreachable)
    assert_clean(code, out, err, "error:")


async def test_the_id_of_a_finished_run_shows_that_run(
    tmp_path: Path, on_server: dict[str, str]
) -> None:
    tree = tmp_path / "greeting.yaml"
    tree.write_text(yaml.safe_dump(GREETING))
    key = uuid.uuid4().hex[:10]
    code, out, err = await treeflow("run", str(tree), "--id", key, **on_server)
    assert code == 0, err
    assert "started" in out
    assert "outcome" in out
    code, out, err = await treeflow("run", str(tree), "--id", key, **on_server)
    assert code == 0, err
    assert "Traceback" not in out + err
    assert "already ended (completed)" in out
    assert "started" not in out.replace("nothing new started", "")
    assert '"text": "hi"' in out  # the existing run's output


async def test_the_id_of_an_open_run_attaches_to_it(
    tmp_path: Path, on_server: dict[str, str], client: Client
) -> None:
    tree = tmp_path / "waiting.yaml"
    tree.write_text(yaml.safe_dump(WAITING))
    key = uuid.uuid4().hex[:10]
    code, out, err = await treeflow("run", str(tree), "--id", key, "--no-wait", **on_server)
    assert code == 0, err
    assert "started default:" in out
    try:
        code, out, err = await treeflow("run", str(tree), "--id", key, "--no-wait", **on_server)
        assert code == 0, err
        assert "attached to the open run" in out
        assert "started default:" not in out
        history = [
            e async for e in client.get_workflow_handle(f"default:{key}").fetch_history_events()
        ]
        assert sum(e.HasField("workflow_execution_started_event_attributes") for e in history) == 1
    finally:
        await client.get_workflow_handle(f"default:{key}").terminate("test over")
