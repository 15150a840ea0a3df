"""The compiler: checks a tree's meaning and pins every tool to one exact version.

All problems are collected and reported together, each with the node path where it
sits (`nodes.search.args.limit: ...`). Output is an immutable `CompiledTree`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, assert_never, runtime_checkable

from pydantic import ValidationError

from activities.sdk import ToolSpec
from activities.versions import ToolRef, Version, VersionError
from workflows import graph, templating
from workflows.compiled import CompiledTree, meaning_hash
from workflows.documents import DocumentError, check_data, shorten
from workflows.expressions import ExpressionSyntaxError, parse
from workflows.limits import (
    MAX_COMPILED_BYTES,
    MAX_NODES,
    MAX_PROBLEM_TEXT_CHARS,
    MAX_SUBTREE_DEPTH,
)
from workflows.scope import SCOPE_NAMES
from workflows.spec import (
    AUTHORING,
    NODE_KINDS,
    DecisionNode,
    EndNode,
    InputNode,
    Node,
    ParallelNode,
    SubtreeNode,
    ToolNode,
    TreeSpec,
    load_document,
)

DEFAULT_DECISION_ACTIVITY = {"router": "router", "llm": "llm_decision"}


class ToolCatalog(Protocol):
    """Read-only tool metadata (the worker's registry satisfies it)."""

    def versions(self, name: str) -> list[Version]: ...

    def spec(self, name: str, version: Version) -> ToolSpec: ...


@runtime_checkable
class DeclarativeSource(Protocol):
    """A catalog that also knows tenants' declarative tools (`TenantToolCatalog`).

    `definition` returns the data to carry in the compiled tree for a declarative
    tool version, or None for a Python tool.
    """

    def definition(self, name: str, version: Version) -> dict[str, Any] | None: ...


TreeLoader = Callable[[str], TreeSpec | None]


@dataclass(frozen=True, slots=True)
class CompileIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class CompileError(ValueError):
    """The tree is invalid; `issues` lists every problem found."""

    def __init__(self, issues: Iterable[CompileIssue]) -> None:
        # Problems quote user text (ids, keys): cut it, so reporting stays cheap.
        self.issues = tuple(
            CompileIssue(
                shorten(i.path, MAX_PROBLEM_TEXT_CHARS), shorten(i.message, MAX_PROBLEM_TEXT_CHARS)
            )
            for i in issues
        )
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in tree:\n{lines}")


def compile_tree(
    source: TreeSpec | Mapping[str, Any] | str | bytes,
    catalog: ToolCatalog,
    *,
    load_tree: TreeLoader | None = None,
) -> CompiledTree:
    """Validate and resolve a tree given as a spec, parsed data, or YAML/JSON text.

    Every limit of `workflows.limits` is checked on the way; breaking one is a
    `CompileError` naming the path, like any other problem.
    """
    spec = parse_spec(source)
    compiled = _Compiler(catalog, load_tree or (lambda name: None)).compile(spec, ())
    size = len(compiled.model_dump_json())
    if size > MAX_COMPILED_BYTES:
        raise CompileError(
            [CompileIssue("", f"compiled tree is {size} bytes; the limit is {MAX_COMPILED_BYTES}")]
        )
    return compiled


def parse_spec(source: TreeSpec | Mapping[str, Any] | str | bytes) -> TreeSpec:
    """Shape-check a tree; pydantic errors become `CompileError` with paths."""
    if isinstance(source, TreeSpec):
        return source
    try:
        if isinstance(source, str | bytes):
            data = load_document(source)
        else:
            check_data(source)
            data = source
    except DocumentError as exc:
        raise CompileError([CompileIssue(exc.path, exc.message)]) from None
    except Exception as exc:  # yaml.YAMLError and friends: report, never crash
        raise CompileError([CompileIssue("", f"not valid YAML or JSON: {exc}")]) from None
    if not isinstance(data, Mapping):
        raise CompileError([CompileIssue("", "a tree must be a mapping with `name` and `nodes`")])
    try:
        return TreeSpec.model_validate(data, context={AUTHORING: True})
    except ValidationError as exc:
        raise CompileError(_validation_issues(exc)) from None


def _validation_issues(exc: ValidationError, prefix: str = "") -> list[CompileIssue]:
    issues = []
    for error in exc.errors(include_url=False, include_input=False):
        # Drop discriminator tags (`tool`, `decision`...) pydantic inserts into locations.
        loc = [shorten(str(p)) for p in error["loc"] if p not in NODE_KINDS]
        path = ".".join(filter(None, [prefix, *loc]))
        issues.append(CompileIssue(path, error["msg"]))
    return issues


@dataclass
class _Compiler:
    catalog: ToolCatalog
    load_tree: TreeLoader
    issues: list[CompileIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    declarative: dict[str, dict[str, Any]] = field(default_factory=dict)

    def error(self, path: str, message: str) -> None:
        self.issues.append(CompileIssue(path, message))

    def compile(self, spec: TreeSpec, stack: tuple[str, ...]) -> CompiledTree:
        nodes = spec.nodes
        if len(stack) > MAX_SUBTREE_DEPTH:
            self.error("", f"subtrees are nested deeper than {MAX_SUBTREE_DEPTH} levels")
            raise CompileError(self.issues)
        if spec.start not in nodes:
            self.error("start", f"unknown node '{spec.start}'")
        edges = graph.edges(nodes)
        for node_id, targets in edges.items():
            for where, target in targets:
                if target not in nodes:
                    self.error(f"nodes.{node_id}.{where}", f"unknown node '{target}'")
        loop_nodes = graph.nodes_in_cycles(nodes) if not self.issues else set()
        subtrees: dict[str, CompiledTree] = {}
        resolved: dict[str, Node] = {}
        context = _ScopeContext.of(spec)
        for node_id, node in nodes.items():
            path = f"nodes.{node_id}"
            resolved[node_id] = self.node(spec, node_id, node, path, context, loop_nodes)
            if isinstance(node, SubtreeNode):
                child = self.subtree(node, path, (*stack, spec.name))
                if child is not None:
                    # Stored once, by hash: the table is flat, entries carry no copies.
                    subtrees[child.hash] = child.model_copy(update={"subtrees": {}})
                    subtrees.update(child.subtrees)
                    resolved[node_id] = node.model_copy(update={"tree": child.hash, "spec": None})
        total = len(nodes) + sum(len(tree.spec.nodes) for tree in subtrees.values())
        if total > MAX_NODES and not stack:
            self.error("nodes", f"{total} nodes with its subtrees; the limit is {MAX_NODES}")
        if spec.start in nodes and not self.issues:
            self.graph_checks(spec, resolved)
        if self.issues:
            raise CompileError(self.issues)
        final = spec.model_copy(update={"nodes": resolved})
        final = TreeSpec.model_validate(final.model_dump())  # re-validate the resolved form
        return CompiledTree(
            hash=meaning_hash(final, self.declarative),
            spec=final,
            subtrees=subtrees,
            warnings=tuple(self.warnings),
            declarative_tools=self.declarative,
        )

    # ------------------------------------------------------------ nodes

    def node(
        self,
        spec: TreeSpec,
        node_id: str,
        node: Node,
        path: str,
        context: _ScopeContext,
        loop_nodes: set[str],
    ) -> Node:
        match node:
            case ToolNode():
                return self.tool_node(spec, node, path, context)
            case DecisionNode():
                return self.decision_node(spec, node_id, node, path, context, loop_nodes)
            case InputNode():
                self.template(node.prompt, f"{path}.prompt", context)
            case SubtreeNode():
                self.template(node.inputs, f"{path}.inputs", context)
            case EndNode():
                self.template(node.output, f"{path}.output", context)
            case ParallelNode():
                pass  # its references are checked with the graph
            case _:
                assert_never(node)
        return node

    def tool_node(
        self, spec: TreeSpec, node: ToolNode, path: str, context: _ScopeContext
    ) -> ToolNode:
        tool_spec = self.resolve_tool(node.tool, f"{path}.tool", kind="tool")
        self.template(node.args, f"{path}.args", context)
        self.template(node.set, f"{path}.set", context, extra_names={"result"})
        if node.summary is not None:
            self.template(node.summary, f"{path}.summary", context)
        if tool_spec is None:
            return node
        writable = self.agent_args(tool_spec, node, path)
        self.check_args(tool_spec, node.args, f"{path}.args", writable=writable)
        if isinstance(self.catalog, DeclarativeSource):
            definition = self.catalog.definition(tool_spec.name, tool_spec.version)
            if definition is not None:
                self.declarative[tool_spec.activity_name] = definition
        timeout = node.timeout or spec.defaults.timeout
        return node.model_copy(
            update={
                "tool": tool_spec.activity_name,
                "retry": node.retry or spec.defaults.retry,
                "timeout": timeout or tool_spec.start_to_close_timeout.total_seconds(),
                "heartbeat_timeout": node.heartbeat_timeout
                or (
                    tool_spec.heartbeat_timeout.total_seconds()
                    if tool_spec.heartbeat_timeout
                    else None
                ),
            }
        )

    def decision_node(
        self,
        spec: TreeSpec,
        node_id: str,
        node: DecisionNode,
        path: str,
        context: _ScopeContext,
        loop_nodes: set[str],
    ) -> DecisionNode:
        names: set[str] = set()
        for index, branch in enumerate(node.branches):
            bpath = f"{path}.branches[{index}]"
            if branch.name in names:
                self.error(bpath, f"duplicate branch '{branch.name}'")
            names.add(branch.name)
            if branch.when is not None:
                self.expression(branch.when, f"{bpath}.when", context)
            for required in branch.requires:
                if required not in context.tool_names and required not in spec.nodes:
                    self.error(
                        f"{bpath}.requires",
                        f"'{required}' is neither a tool used in this tree nor a node id",
                    )
        update: dict[str, Any] = {}
        if node.strategy == "rules":
            self.rules_branches(node, path)
            if node.using is not None:
                self.error(f"{path}.using", "rule decisions run in the workflow; remove `using`")
        else:
            prompt = node.prompt or "{{ inputs.question }}"
            self.template(prompt, f"{path}.prompt", context)
            using = node.using or DEFAULT_DECISION_ACTIVITY[node.strategy]
            decider = self.resolve_tool(using, f"{path}.using", kind="decision")
            update["prompt"] = prompt
            if decider is not None:
                update["using"] = decider.activity_name
            update["retry"] = node.retry or spec.defaults.retry
            update["timeout"] = node.timeout or (
                decider.start_to_close_timeout.total_seconds() if decider else None
            )
        max_passes = node.max_passes or (spec.limits.max_passes if node_id in loop_nodes else None)
        if max_passes is not None:
            update["max_passes"] = max_passes
        if node.on_limit is not None and max_passes is None:
            self.error(f"{path}.on_limit", "set max_passes (or limits.max_passes) to use on_limit")
        return node.model_copy(update=update)

    def rules_branches(self, node: DecisionNode, path: str) -> None:
        otherwise = [i for i, b in enumerate(node.branches) if b.when is None and not b.requires]
        if not otherwise:
            self.error(
                f"{path}.branches",
                "a rules decision needs a last branch without `when` or `requires` "
                "(taken when no rule matches)",
            )
        elif otherwise[0] != len(node.branches) - 1:
            unreachable = ", ".join(b.name for b in node.branches[otherwise[0] + 1 :])
            self.error(
                f"{path}.branches[{otherwise[0]}]",
                f"a branch without `when` must be last; it hides: {unreachable}",
            )

    # ------------------------------------------------------------ tools

    def resolve_tool(self, text: str, path: str, *, kind: str) -> ToolSpec | None:
        try:
            ref = ToolRef.parse(text)
        except VersionError as exc:
            self.error(path, str(exc))
            return None
        versions = self.catalog.versions(ref.name)
        if not versions:
            self.error(path, f"unknown {kind} '{ref.name}'")
            return None
        best = ref.constraint.best(versions)
        if best is None:
            listed = ", ".join(str(v) for v in versions)
            self.error(
                path,
                f"no version of '{ref.name}' matches '{ref.constraint}' (registered: {listed})",
            )
            return None
        tool_spec = self.catalog.spec(ref.name, best)
        if tool_spec.kind != kind:
            self.error(path, f"'{ref.name}' is a {tool_spec.kind}, not a {kind}")
            return None
        if tool_spec.deprecated:
            self.warnings.append(
                f"{path}: {tool_spec.activity_name} is deprecated: {tool_spec.deprecated}"
            )
        return tool_spec

    def agent_args(self, tool_spec: ToolSpec, node: ToolNode, path: str) -> frozenset[str]:
        """Argument names a decision may write for this node (checked against the model)."""
        fields = frozenset(tool_spec.input_model.model_fields)
        if node.agent_args is False:
            return frozenset()
        if node.agent_args is True:
            return fields
        for name in node.agent_args:
            if name not in fields:
                self.error(
                    f"{path}.agent_args",
                    f"'{name}' is not an argument of {tool_spec.activity_name} "
                    f"(accepted: {', '.join(sorted(fields))})",
                )
        return frozenset(node.agent_args) & fields

    def check_args(
        self,
        tool_spec: ToolSpec,
        args: dict[str, Any],
        path: str,
        *,
        writable: frozenset[str] = frozenset(),
    ) -> None:
        model = tool_spec.input_model
        accepted: dict[str, str] = {}
        for name, info in model.model_fields.items():
            accepted[name] = name
            if info.alias:
                accepted[info.alias] = name
        for arg in args:
            if arg not in accepted:
                expected = ", ".join(sorted(model.model_fields))
                self.error(
                    f"{path}.{arg}",
                    f"unknown argument for {tool_spec.activity_name} (accepted: {expected})",
                )
        templated = {accepted.get(k, k) for k, v in args.items() if templating.is_templated(v)}
        literal = {k: v for k, v in args.items() if not templating.is_templated(v)}
        try:
            model.model_validate(literal)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                loc = [str(p) for p in error["loc"]]
                if not _settled_later(loc, templated, writable, set(literal), accepted):
                    self.error(".".join([path, *loc]), error["msg"])

    # ------------------------------------------------------------ expressions

    def expression(self, source: str, path: str, context: _ScopeContext) -> None:
        try:
            parsed = parse(source)
        except ExpressionSyntaxError as exc:
            self.error(path, f"syntax error: {exc}")
            return
        for problem in context.reference_problems(parsed.paths(), set()):
            self.error(path, problem)

    def template(
        self,
        value: Any,
        path: str,
        context: _ScopeContext,
        *,
        extra_names: set[str] | None = None,
    ) -> None:
        for where, exc in templating.check(value, path):
            self.error(where, f"syntax error: {exc}")
        for where, parsed in templating.parsed_expressions(value, path):
            for problem in context.reference_problems(parsed.paths(), extra_names or set()):
                self.error(where, problem)

    # ------------------------------------------------------------ subtrees and graph

    def subtree(self, node: SubtreeNode, path: str, stack: tuple[str, ...]) -> CompiledTree | None:
        if node.spec is not None:
            child_spec = node.spec
            where = f"{path}.spec"
        else:
            assert node.tree is not None
            if node.tree in stack:
                self.error(
                    f"{path}.tree",
                    f"tree '{node.tree}' includes itself: {' -> '.join((*stack, node.tree))}",
                )
                return None
            loaded = self.load_tree(node.tree)
            if loaded is None:
                self.error(f"{path}.tree", f"unknown tree '{node.tree}'")
                return None
            child_spec = loaded
            where = f"{path}.tree({node.tree})"
        child = _Compiler(self.catalog, self.load_tree)
        try:
            return child.compile(child_spec, stack)
        except CompileError as exc:
            self.issues.extend(
                CompileIssue(f"{where}.{issue.path}" if issue.path else where, issue.message)
                for issue in exc.issues
            )
            return None
        finally:
            self.warnings.extend(f"{where}: {w}" for w in child.warnings)

    def graph_checks(self, spec: TreeSpec, nodes: Mapping[str, Node]) -> None:
        reachable = graph.reachable(nodes, spec.start)
        for node_id in nodes:
            if node_id not in reachable:
                self.error(f"nodes.{node_id}", f"unreachable from start node '{spec.start}'")
        for cycle in graph.unbounded_cycles(nodes):
            loop = " -> ".join([*cycle, cycle[0]])
            self.error(
                f"nodes.{cycle[0]}",
                f"loop {loop} has no bound: set max_passes on a decision in it "
                "(or limits.max_passes), or wait for user input in it",
            )
        for node_id, node in nodes.items():
            if isinstance(node, ParallelNode):
                for index, entry in enumerate(node.branches):
                    problem = graph.branch_problem(nodes, entry, node.join)
                    if problem:
                        self.error(f"nodes.{node_id}.branches[{index}]", problem)


def _settled_later(
    loc: list[str],
    templated: set[str],
    writable: frozenset[str],
    literal: set[str],
    accepted: dict[str, str],
) -> bool:
    """Whether an argument error at `loc` is not the literal arguments' fault."""
    if not loc:
        return bool(templated or writable)  # the whole model: run-time values may fix it
    field_name = loc[0]
    if field_name in templated:
        return True  # depends on a value only known at run time
    if field_name in writable and field_name not in literal:
        return True  # the decision agent writes it at run time
    return field_name not in accepted.values()  # reported as an unknown argument


@dataclass(frozen=True)
class _ScopeContext:
    """What names a tree's expressions may read, for reference checks."""

    inputs: frozenset[str] | None
    state_keys: frozenset[str]
    node_ids: frozenset[str]
    decision_ids: frozenset[str]
    tool_names: frozenset[str]

    @classmethod
    def of(cls, spec: TreeSpec) -> _ScopeContext:
        state_keys = set(spec.state)
        tool_names = set()
        for node in spec.nodes.values():
            if isinstance(node, ToolNode):
                state_keys.update(node.set)
                with contextlib.suppress(VersionError):
                    tool_names.add(ToolRef.parse(node.tool).name)
            elif isinstance(node, InputNode):
                state_keys.add(node.save_as)
        return cls(
            inputs=frozenset(spec.inputs) if spec.inputs is not None else None,
            state_keys=frozenset(state_keys),
            node_ids=frozenset(spec.nodes),
            decision_ids=frozenset(
                n for n, node in spec.nodes.items() if isinstance(node, DecisionNode)
            ),
            tool_names=frozenset(tool_names),
        )

    def reference_problems(
        self, paths: list[tuple[str, ...]], extra_names: set[str]
    ) -> Iterable[str]:
        for ref in paths:
            root = ref[0]
            if root in extra_names:
                continue
            if root not in SCOPE_NAMES:
                allowed = ", ".join(sorted(SCOPE_NAMES | extra_names))
                yield f"unknown name '{root}' (available: {allowed})"
                continue
            if len(ref) < 2:
                continue
            key = ref[1]
            if root == "inputs" and self.inputs is not None and key not in self.inputs:
                declared = ", ".join(sorted(self.inputs)) or "none"
                yield f"unknown input '{key}' (declared: {declared})"
            elif root == "state" and key not in self.state_keys:
                yield (
                    f"unknown state key '{key}': declare it under `state`, "
                    "or set it with `set`/`save_as`"
                )
            elif root == "results" and key not in self.node_ids:
                yield f"unknown node '{key}' in results"
            elif root in ("tools", "errors") and key not in self.tool_names:
                yield f"tool '{key}' is not used in this tree"
            elif root == "passes" and key not in self.decision_ids:
                yield f"'{key}' is not a decision node"
