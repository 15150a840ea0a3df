"""Everything needed to start a run, short of the network call itself.

`client.start_workflow(DecisionTreeWorkflow.run, request, **start_options(...))` is
the one line the API and the CLI share; this module keeps the rest pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from workflows import search_attributes
from workflows.compiled import CompiledTree
from workflows.documents import data_problem
from workflows.limits import MAX_INPUT_DEPTH
from workflows.run_inputs import input_problems
from workflows.run_models import RunRequest
from workflows.tool_routing import TOOLS_MEMO_KEY, pinned_activities

_ID_SAFE = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")


@dataclass(frozen=True, slots=True)
class InputProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidInputs(ValueError):
    """Run inputs do not match the tree's declared inputs."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def check_inputs(tree: CompiledTree, inputs: Mapping[str, Any]) -> list[InputProblem]:
    """Problems with `inputs` against the tree's `inputs` block (none if undeclared).

    Any run's inputs must be finite JSON data nested at most `MAX_INPUT_DEPTH` deep.
    """
    shapes = [
        data_problem(v, f"inputs.{k}", max_depth=MAX_INPUT_DEPTH, what="input")
        for k, v in inputs.items()
    ]
    if any(shapes):
        return [InputProblem(p.path, p.message) for p in shapes if p is not None]
    declared = tree.spec.inputs
    if declared is None:
        return []
    return [InputProblem(f"inputs.{p.path}", p.message) for p in input_problems(declared, inputs)]


def run_request(tree: CompiledTree, inputs: Mapping[str, Any], tenant_id: str) -> RunRequest:
    """A validated workflow input; raises `InvalidInputs` naming each bad field."""
    problems = check_inputs(tree, inputs)
    if problems:
        raise InvalidInputs(problems)
    return RunRequest(tree=tree, inputs=dict(inputs), tenant_id=tenant_id)


def workflow_id(tenant_id: str, key: str) -> str:
    """The run's workflow id: tenant-scoped, derived from the idempotency key."""
    if not _ID_SAFE.match(key):
        raise ValueError("idempotency key: 1-200 characters of letters, digits and ._:@-")
    return f"{tenant_id}:{key}"


def start_options(
    tree: CompiledTree,
    *,
    tenant_id: str,
    workflow_id: str,
    task_queue: str,
    memo: Mapping[str, Any] | None = None,
    rollout: Mapping[str, Any] | None = None,
    rerun_of: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `Client.start_workflow` (id, queue, search attributes...).

    Starting twice with the same id while the first run is open returns the open
    run (`USE_EXISTING`); a closed run's id is not reused, so an idempotency key
    always maps to one run.

    `rollout` is the routing decision taken by the caller before the start (a flag
    chose which version of the tree this run uses; see `foundation.flags.rollout`):
    it is recorded in the memo under `rollout` and its `arm` as the `TreeRollout`
    search attribute, so the choice is part of the run's history and never made
    again in workflow code. Without it the options are exactly as before.

    `rerun_of` (a re-run's origin: `workflow_id`, `run_id`, `key`, `from_node`) goes
    into the memo under `rerun_of` and its workflow id into the `RerunOf` attribute.
    """
    extra_memo = dict(memo or {})
    arm: str | None = None
    if rollout is not None:
        arm = str(rollout.get("arm") or "")
        if not arm:
            raise ValueError("rollout: an 'arm' (stable or candidate) is required")
        extra_memo["rollout"] = dict(rollout)
    origin: str | None = None
    if rerun_of is not None:
        origin = str(rerun_of["workflow_id"])
        extra_memo["rerun_of"] = dict(rerun_of)
    return {
        "id": workflow_id,
        "task_queue": task_queue,
        "search_attributes": search_attributes.for_run(
            tenant_id, tree.name, tree.version, tree.hash, rollout_arm=arm, rerun_of=origin
        ),
        "memo": {
            "tree": tree.name,
            "tree_version": tree.version,
            "tree_hash": tree.hash,
            TOOLS_MEMO_KEY: pinned_activities(tree),
        }
        | extra_memo,
        "static_summary": f"{tree.name} {tree.version} for {tenant_id}",
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    }
