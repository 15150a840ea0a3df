"""Gradual rollout of a new tree version, decided once when a run starts.

The flag `tree.<name>.rollout` routes a run to the candidate version when it is
on for the run's context: a `flexibleRollout` strategy with `sessionId`
stickiness sends that percentage of run keys (idempotency keys) to the
candidate, and a repeated start with the same key routes the same way. A variant
payload may name the candidate version (otherwise the caller's candidate is used).

The decision is recorded in the run's memo and `TreeRollout` search attribute via
`temporal_client.run_start.start_options(rollout=decision.record())`; workflow code never
evaluates a flag, so replay sees the same tree the run started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from foundation.flags.client import FlagClient, FlagContext

Arm = Literal["stable", "candidate"]


def rollout_flag(tree: str) -> str:
    return f"tree.{tree}.rollout"


@dataclass(frozen=True, slots=True)
class RolloutDecision:
    flag: str
    arm: Arm
    version: str
    variant: str | None = None

    def record(self) -> dict[str, str]:
        """What the run's memo keeps under `rollout` (the `arm` also as a search attribute)."""
        data = {"flag": self.flag, "arm": self.arm, "version": self.version}
        if self.variant:
            data["variant"] = self.variant
        return data


def decide_rollout(
    flags: FlagClient,
    tree: str,
    *,
    stable: str,
    candidate: str | None,
    context: FlagContext,
) -> RolloutDecision | None:
    """Which version this run uses; None when no rollout flag exists for the tree."""
    flag = rollout_flag(tree)
    if not flags.known(flag):
        return None
    scoped = FlagContext(
        tenant_id=context.tenant_id,
        user_id=context.user_id,
        tree=tree,
        session_id=context.session_id,
    )
    if not flags.enabled(flag, scoped):
        return RolloutDecision(flag=flag, arm="stable", version=stable)
    variant, payload = flags.variant(flag, scoped)
    version = payload or candidate
    if not version or version == stable:
        return RolloutDecision(flag=flag, arm="stable", version=stable, variant=variant)
    return RolloutDecision(flag=flag, arm="candidate", version=version, variant=variant)
