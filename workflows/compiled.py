"""The compiler's output: an immutable, content-hashed, fully pinned tree."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from workflows.spec import TreeSpec

COMPILED_FORMAT = 1

# Fields that document a tree but never change how it runs.
_COSMETIC_TREE_FIELDS = ("name", "version", "description", "defaults")
_COSMETIC_NODE_FIELDS = ("description", "summary")


class CompiledTree(BaseModel):
    """A tree ready to run: every tool pinned to `name@x.y.z`, defaults applied.

    `spec` is itself a valid `TreeSpec` (nothing left to resolve); `subtrees` holds
    the compiled children of subtree nodes, keyed by their hash. The whole object
    travels as workflow input, so a run never depends on what is deployed later.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = COMPILED_FORMAT
    hash: str = Field(description="sha256 of the tree's meaning (see `meaning_hash`).")
    spec: TreeSpec
    subtrees: dict[str, CompiledTree] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    declarative_tools: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Definitions of the tenant's declarative tools this tree uses, by "
        "`name@x.y.z`; they travel with the run to the worker's generic activity.",
    )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    def child(self, tree_hash: str) -> CompiledTree:
        """The subtree `tree_hash` with every subtree it uses, ready to run as a child.

        The compiler stores each subtree once, in the top tree's flat `subtrees`
        table (entries carry no copies). Inputs recorded before that carried nested
        copies inside each entry; those are kept, so old runs start the same children.
        """
        entry = self.subtrees[tree_hash]
        needed: dict[str, CompiledTree] = dict(entry.subtrees)
        pending = [entry]
        while pending:
            tree = pending.pop()
            for node in tree.spec.nodes.values():
                if node.kind != "subtree" or node.tree is None or node.tree in needed:
                    continue
                found = self.subtrees.get(node.tree)
                if found is not None:
                    needed[node.tree] = found
                    pending.append(found)
        if needed == entry.subtrees:
            return entry
        return entry.model_copy(update={"subtrees": needed})

    def pins(self) -> dict[str, str]:
        """Node id -> exact activity (`name@x.y.z`) for every tool and decision activity."""
        pinned: dict[str, str] = {}
        for node_id, node in self.spec.nodes.items():
            if node.kind == "tool":
                pinned[node_id] = node.tool
            elif node.kind == "decision" and node.using:
                pinned[node_id] = node.using
        return pinned


def meaning(spec: TreeSpec) -> dict[str, Any]:
    """The parts of a resolved spec that change behaviour, as canonical data.

    Excluded: tree name, version and description, the `defaults` block (already
    applied to every node), node descriptions and UI summaries, and branch texts of
    rule decisions (rules never read them).
    """
    data = spec.model_dump(mode="json")
    for field in _COSMETIC_TREE_FIELDS:
        data.pop(field, None)
    for node in data["nodes"].values():
        for field in _COSMETIC_NODE_FIELDS:
            node.pop(field, None)
        if node["kind"] == "tool" and node.get("agent_args") is False:
            node.pop("agent_args")  # the default: trees that predate the field keep their hash
        if node["kind"] == "decision" and node["strategy"] == "rules":
            node.pop("instruction", None)
            for branch in node["branches"]:
                branch.pop("description", None)
                branch.pop("keywords", None)
    data["format"] = COMPILED_FORMAT
    return data


def meaning_hash(spec: TreeSpec, declarative_tools: dict[str, Any] | None = None) -> str:
    """Content hash of a resolved spec; subtree nodes carry their child's hash.

    Declarative tool definitions change behaviour, so they are hashed too (only
    when present, so trees without them keep their hash).
    """
    data = meaning(spec)
    if declarative_tools:
        data["declarative_tools"] = declarative_tools
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
