"""Re-runs in the interpreter and the history they are built from, on the real dev server.

`tally@1.0.0` (tests/support/tools.py) counts its calls in a file, so each test proves
which steps ran again and which took the origin's recorded result.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHistory,
)
from temporalio.worker import Replayer, Worker

from activities.registry import ToolRegistry
from activities.runtime import ToolHost
from foundation.secrets import Keyring
from foundation.secrets.payload_codec import TenantPayloadCodec
from temporal_client import run_history
from temporal_client.connection import TemporalSettings, data_converter
from temporal_client.run_history import HistoryUnreadable, read_run_history
from temporal_client.run_start import run_request, start_options
from tests.support.temporal_fixtures import RunTree, StartTree, compile_for_tests
from tests.support.tools import tally_calls
from tests.support.trees import decision, end, tool_node, tree
from worker.runner import build_worker
from worker.settings import WorkerSettings
from workflows.rerun import RecordedResults, RerunPlan, ReusedCall, args_digest
from workflows.workflow import DecisionTreeWorkflow


def counted(node: str, value: Any, **extra: Any) -> dict[str, Any]:
    return tool_node("tally", {"counter": f"{{{{ inputs.dir }}}}/{node}", "value": value}, **extra)


def looping_tree() -> dict[str, Any]:
    """`work` (counted) and `ping` (arguments differ per run) twelve times, then `charge`,
    which fails while `<dir>/broken` exists; continues as new every few passes."""
    charge = counted("charge", "{{ state.n }}")
    charge["args"]["fail_while"] = "{{ inputs.dir }}/broken"
    return tree(
        {
            "loop": decision(("work", "state.n < 12"), ("charge", None), max_passes=20),
            "work": counted(
                "work", "{{ state.n }}", set={"n": "{{ result.value + 1 }}"}, next="ping"
            ),
            "ping": tool_node("echo", {"value": "{{ run.workflow_id }}"}, next="loop"),
            "charge": {**charge, "next": "e"},
            "e": end({"n": "{{ state.n }}", "charged": "{{ results.charge.value }}"}),
        },
        state={"n": 0},
        limits={"continue_as_new_after": 40},
    )


def test_recorded_results_are_taken_in_visit_order_until_from_node() -> None:
    plan = RerunPlan(
        from_node="c",
        calls={
            "a": [
                ReusedCall(digest=args_digest({"x": 1}), result="first"),
                ReusedCall(digest=args_digest({"x": 2}), result=None, ok=False),
                ReusedCall(digest=args_digest({"x": 3}), result="third"),
            ],
            "q": [ReusedCall(result="yes")],
        },
    )
    recorded = RecordedResults(plan)
    taken = recorded.take("a", {"x": 1})
    assert taken is not None
    assert taken.result == "first"
    assert recorded.take("a", {"x": 2}) is None  # failed in the origin: call again
    assert recorded.take("a", {"x": 99}) is None  # other arguments: call again
    assert recorded.take("a", {"x": 1}) is None  # nothing left for a fourth visit
    answer = recorded.answer("q")
    assert answer is not None
    assert answer.result == "yes"
    assert recorded.remaining() == RerunPlan(from_node="c", calls={})
    recorded = RecordedResults(plan)
    recorded.reached("c")
    assert recorded.take("a", {"x": 1}) is None
    assert recorded.remaining() is None
    assert not RecordedResults(None).active


def test_the_argument_digest_ignores_key_order_only() -> None:
    assert args_digest({"a": 1, "b": [1, 2]}) == args_digest({"b": [1, 2], "a": 1})
    assert args_digest({"a": 1}) != args_digest({"a": 2})


async def test_a_rerun_carries_its_reuse_through_continue_as_new(
    start_tree: StartTree, client: Client, registry: ToolRegistry, worker: str, tmp_path: Path
) -> None:
    (tmp_path / "broken").touch()
    origin = await start_tree(looping_tree(), {"dir": str(tmp_path)})
    with pytest.raises(WorkflowFailureError):
        await client.get_workflow_handle(origin.id).result()

    history = await read_run_history(client, origin.id, origin.first_execution_run_id or "")
    assert len(history.run_ids) > 1  # the origin continued as new; every generation read
    work = [c for c in history.calls if c.node == "work"]
    assert [c.result["value"] for c in work] == list(range(12))
    assert {c.activity for c in work} == {"tally@1.0.0"}
    assert all(c.status == "completed" and c.attempt == 1 for c in work)
    assert all(c.started_at and c.closed_at and c.closed_at >= c.scheduled_at for c in work)
    charge = history.calls[-1]
    assert (charge.node, charge.status) == ("charge", "failed")
    assert charge.failure is not None
    assert "told to fail" in charge.failure.message
    assert history.failed_node == "charge"
    assert history.failure is not None
    assert history.failure.message.startswith("nodes.charge:")

    (tmp_path / "broken").unlink()
    compiled = compile_for_tests(looping_tree(), registry)
    request = run_request(compiled, history.request.inputs, "tests").model_copy(
        update={"rerun": history.rerun_plan("charge")}
    )
    rerun_id = f"tests:{uuid.uuid4().hex}"
    handle = await client.start_workflow(
        DecisionTreeWorkflow.run,
        request,
        **start_options(compiled, tenant_id="tests", workflow_id=rerun_id, task_queue=worker),
    )
    result = await handle.result()
    assert result.output == {"n": 12, "charged": 12}
    assert tally_calls(tmp_path / "work") == 12  # every pass took the recorded result
    assert tally_calls(tmp_path / "charge") == 2
    first = client.get_workflow_handle(rerun_id, run_id=handle.first_execution_run_id)
    assert (await first.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW


async def test_encrypted_histories_decode_with_the_clients_codec(
    temporal_settings: TemporalSettings, client: Client, registry: ToolRegistry, tmp_path: Path
) -> None:
    codec = TenantPayloadCodec(Keyring.from_encoded({"k1": Keyring.generate_key()}, "k1"))
    sealed = await Client.connect(**temporal_settings.connect_kwargs(codec))
    queue = f"rerun-codec-{uuid.uuid4().hex[:6]}"
    compiled = compile_for_tests(
        tree({"a": counted("a", "secret value", next="e"), "e": end()}), registry
    )
    workflow_id = f"sealed:{uuid.uuid4().hex}"
    async with ToolHost(registry).running() as host:
        running: Worker = build_worker(
            sealed, WorkerSettings(graceful_shutdown_seconds=1), queue, host
        )
        async with running:
            handle = await sealed.start_workflow(
                DecisionTreeWorkflow.run,
                run_request(compiled, {"dir": str(tmp_path)}, "sealed"),
                **start_options(
                    compiled, tenant_id="sealed", workflow_id=workflow_id, task_queue=queue
                ),
            )
            await handle.result()
    raw = (await client.get_workflow_handle(workflow_id).fetch_history()).to_json()
    assert "secret value" not in raw  # ciphertext in Temporal
    history = await read_run_history(sealed, workflow_id, handle.first_execution_run_id or "")
    assert [(c.node, c.result["value"]) for c in history.calls] == [("a", "secret value")]
    assert history.request.inputs == {"dir": str(tmp_path)}
    assert history.result is not None
    assert history.result.path == ["a", "e"]


async def test_the_recorded_rerun_replays_only_with_its_recorded_results() -> None:
    """tests/histories/*__rerun.json replays (test_replay.py); without the `rerun` field
    in its input the same history does not, so its replay covers the reuse path."""
    folder = Path(__file__).parents[1] / "histories"
    stem = "support-triage__double-charge__rerun"
    workflow_id = json.loads((folder / "index.json").read_text())[stem]
    recorded = json.loads((folder / f"{stem}.json").read_text())
    replayer = Replayer(workflows=[DecisionTreeWorkflow], data_converter=data_converter())

    async def replay(document: dict[str, Any]) -> BaseException | None:
        history = WorkflowHistory.from_json(workflow_id, json.dumps(document))
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        return result.replay_failure

    assert await replay(recorded) is None
    payload = recorded["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][
        0
    ]
    request = json.loads(base64.b64decode(payload["data"]))
    assert request["rerun"]["from_node"] == "billing_reply"
    assert set(request["rerun"]["calls"]) == {"classify", "billing_policy"}
    request["rerun"] = None
    payload["data"] = base64.b64encode(json.dumps(request).encode()).decode()
    assert isinstance(await replay(recorded), workflow.NondeterminismError)


async def test_a_subtree_before_from_node_is_not_run_again(
    start_tree: StartTree, client: Client, registry: ToolRegistry, worker: str, tmp_path: Path
) -> None:
    charge = counted("charge", "{{ results.sub.output.v }}")
    charge["args"]["fail_while"] = "{{ inputs.dir }}/broken"
    doc = tree(
        {
            "sub": {
                "kind": "subtree",
                "spec": tree(
                    {
                        "inner": counted("inner", "{{ inputs.topic }}", next="e"),
                        "e": end({"v": "{{ results.inner.value }}"}),
                    },
                    name="inner-tree",
                ),
                "inputs": {"dir": "{{ inputs.dir }}", "topic": "refunds"},
                "next": "charge",
            },
            "charge": {**charge, "next": "e"},
            "e": end({"charged": "{{ results.charge.value }}"}),
        }
    )
    (tmp_path / "broken").touch()
    origin = await start_tree(doc, {"dir": str(tmp_path)})
    with pytest.raises(WorkflowFailureError):
        await client.get_workflow_handle(origin.id).result()
    history = await read_run_history(client, origin.id, origin.first_execution_run_id or "")
    sub = history.calls[0]
    assert (sub.node, sub.activity, sub.status) == ("sub", "subtree:inner-tree", "completed")
    assert sub.args == {"dir": str(tmp_path), "topic": "refunds"}
    assert sub.result["output"] == {"v": "refunds"}

    (tmp_path / "broken").unlink()
    compiled = compile_for_tests(doc, registry)
    request = run_request(compiled, history.request.inputs, "tests").model_copy(
        update={"rerun": history.rerun_plan("charge")}
    )
    handle = await client.start_workflow(
        DecisionTreeWorkflow.run,
        request,
        **start_options(
            compiled, tenant_id="tests", workflow_id=f"tests:{uuid.uuid4().hex}", task_queue=worker
        ),
    )
    result = await handle.result()
    assert result.output == {"charged": "refunds"}
    assert tally_calls(tmp_path / "inner") == 1  # the child run was not started again
    assert tally_calls(tmp_path / "charge") == 2


async def test_a_history_over_the_payload_budget_is_not_read(
    run_tree: RunTree, client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await run_tree(
        tree({"a": counted("a", "x" * 2_000, next="e"), "e": end()}), {"dir": str(tmp_path)}
    )
    first_run = run.handle.first_execution_run_id or ""
    assert (await read_run_history(client, run.handle.id, first_run)).calls
    monkeypatch.setattr(run_history, "MAX_HISTORY_PAYLOAD_BYTES", 1_000)
    with pytest.raises(HistoryUnreadable, match="1000 bytes"):
        await read_run_history(client, run.handle.id, first_run)
