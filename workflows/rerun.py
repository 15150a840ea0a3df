"""Re-run from a node: the recorded results a new run reuses instead of calling again.

A re-run (`POST .../runs/{key}/rerun`) starts a new run of a tree whose input carries,
per node, the results its origin recorded, in visit order (`RerunPlan`). Until the
walk first reaches `from_node`, a tool node, router/LLM decision or subtree whose
rendered arguments (inputs) digest the same as the recorded call's takes the recorded
result and issues no activity or child run; an input node takes its recorded answer
without waiting. From `from_node` on (and for any call whose arguments differ, or
that failed in the origin) the run calls activities as usual. Rule decisions and templates are
recomputed: they are deterministic, so they reproduce the origin's choices unless an
input override changes them. Pure and sandbox safe; `RecordedResults` is the
interpreter's per-run view of the plan.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def args_digest(args: Any) -> str:
    """A stable digest of a call's arguments (what decides whether a result is reused)."""
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ReusedCall(BaseModel):
    """One call the origin made at a node: its argument digest and its result."""

    model_config = ConfigDict(frozen=True)

    digest: str = Field(default="", description="`args_digest` of the call; empty for answers.")
    result: Any = None
    ok: bool = Field(default=True, description="False: the origin's call failed; call again.")


class RerunPlan(BaseModel):
    """What a re-run reuses: recorded calls per node, until the walk reaches `from_node`."""

    model_config = ConfigDict(frozen=True)

    from_node: str
    calls: dict[str, list[ReusedCall]] = Field(default_factory=dict)


class RecordedResults:
    """The interpreter's reuse state: takes recorded calls in visit order per node."""

    def __init__(self, plan: RerunPlan | None) -> None:
        self.from_node = plan.from_node if plan is not None else None
        self._calls = {node: list(calls) for node, calls in plan.calls.items()} if plan else {}

    @property
    def active(self) -> bool:
        return self.from_node is not None

    def reached(self, node_id: str) -> None:
        """The walk visits `node_id`; at `from_node` reuse ends for the rest of the run."""
        if node_id == self.from_node:
            self.from_node = None
            self._calls = {}

    def _next(self, node_id: str) -> ReusedCall | None:
        if self.from_node is None:
            return None
        queue = self._calls.get(node_id)
        if not queue:
            return None
        return queue.pop(0)

    def take(self, node_id: str, args: Any) -> ReusedCall | None:
        """The recorded call for this visit of `node_id`, if it made the same call and
        succeeded; None means: call the activity."""
        recorded = self._next(node_id)
        if recorded is None or not recorded.ok or recorded.digest != args_digest(args):
            return None
        return recorded

    def answer(self, node_id: str) -> ReusedCall | None:
        """The recorded answer for this visit of input node `node_id`, if any."""
        recorded = self._next(node_id)
        return recorded if recorded is not None and recorded.ok else None

    def remaining(self) -> RerunPlan | None:
        """What is still to reuse, for continue-as-new (None once `from_node` was reached)."""
        if self.from_node is None:
            return None
        return RerunPlan(
            from_node=self.from_node, calls={n: list(c) for n, c in self._calls.items() if c}
        )
