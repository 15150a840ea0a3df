"""Typed search attributes that make runs findable in Temporal visibility and the Web UI.

`RunStatus` is present only while a run is in a Treeflow-specific state
(`waiting_input`) or ended with a notable outcome (`limit_reached`, `impossible`,
`ended`); the lifecycle itself is Temporal's `ExecutionStatus`. `TreeRollout` is
present only on runs whose tree version was chosen by a rollout flag at start
(`stable` or `candidate`; the flag and variant are in the memo). Writing them only then
adds no event to a plain run, whose history has two more events than a hand-written
workflow's: the `tf-0009` patch marker and the `TemporalChangeVersion` upsert the SDK
writes with it (docs/benchmarks.md). `RerunOf`
is present only on re-runs: the workflow id of the run they re-run (api.reruns).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

TENANT_ID = SearchAttributeKey.for_keyword("TenantId")
TREE_NAME = SearchAttributeKey.for_keyword("TreeName")
TREE_VERSION = SearchAttributeKey.for_keyword("TreeVersion")
TREE_HASH = SearchAttributeKey.for_keyword("TreeHash")
RUN_STATUS = SearchAttributeKey.for_keyword("RunStatus")
TREE_ROLLOUT = SearchAttributeKey.for_keyword("TreeRollout")
RERUN_OF = SearchAttributeKey.for_keyword("RerunOf")

ALL_KEYS: tuple[SearchAttributeKey[str], ...] = (
    TENANT_ID,
    TREE_NAME,
    TREE_VERSION,
    TREE_HASH,
    RUN_STATUS,
    TREE_ROLLOUT,
    RERUN_OF,
)


def for_run(
    tenant_id: str,
    tree_name: str,
    tree_version: str,
    tree_hash: str,
    *,
    rollout_arm: str | None = None,
    rerun_of: str | None = None,
) -> TypedSearchAttributes:
    """The attributes a run starts with."""
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(TENANT_ID, tenant_id),
        SearchAttributePair(TREE_NAME, tree_name),
        SearchAttributePair(TREE_VERSION, tree_version),
        SearchAttributePair(TREE_HASH, tree_hash),
    ]
    if rollout_arm:
        pairs.append(SearchAttributePair(TREE_ROLLOUT, rollout_arm))
    if rerun_of:
        pairs.append(SearchAttributePair(RERUN_OF, rerun_of))
    return TypedSearchAttributes(pairs)


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` arguments that register these attributes."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags
