"""Graph checks on a tree's nodes: edges, reachability, loops and parallel blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

from workflows.spec import (
    DecisionNode,
    EndNode,
    InputNode,
    Node,
    ParallelNode,
    SubtreeNode,
    ToolNode,
)

Edge = tuple[str, str]  # (field path inside the node, target node id)


def edges(nodes: Mapping[str, Node]) -> dict[str, list[Edge]]:
    """Every outgoing reference of every node, with the field it comes from."""
    return {node_id: _out_edges(node) for node_id, node in nodes.items()}


def _out_edges(node: Node) -> list[Edge]:
    match node:
        case DecisionNode():
            branches = [(f"branches[{i}].to", b.to) for i, b in enumerate(node.branches)]
            return branches + _present(("on_limit", node.on_limit), ("on_end", node.on_end))
        case ParallelNode():
            entries = [(f"branches[{i}]", entry) for i, entry in enumerate(node.branches)]
            return [*entries, ("join", node.join)]
        case ToolNode() | SubtreeNode():
            return _present(("next", node.next), ("on_error", node.on_error))
        case InputNode():
            return _present(("next", node.next), ("on_timeout", node.on_timeout))
        case EndNode():
            return []
        case _:
            assert_never(node)


def _present(*fields: tuple[str, str | None]) -> list[Edge]:
    return [(name, target) for name, target in fields if target]


def successors(nodes: Mapping[str, Node]) -> dict[str, list[str]]:
    return {n: [t for _, t in out if t in nodes] for n, out in edges(nodes).items()}


def reachable(nodes: Mapping[str, Node], start: str) -> set[str]:
    graph = successors(nodes)
    seen = {start}
    stack = [start]
    while stack:
        for target in graph.get(stack.pop(), []):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def strongly_connected(nodes: Mapping[str, Node]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components in a deterministic order."""
    graph = successors(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_index = work.pop()
            if child_index == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = graph[node]
            if child_index < len(children):
                work.append((node, child_index + 1))
                child = children[child_index]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def _cyclic(component: list[str], graph: Mapping[str, list[str]]) -> bool:
    return len(component) > 1 or component[0] in graph[component[0]]


def nodes_in_cycles(nodes: Mapping[str, Node]) -> set[str]:
    graph = successors(nodes)
    return {n for c in strongly_connected(nodes) if _cyclic(c, graph) for n in c}


def unbounded_cycles(nodes: Mapping[str, Node]) -> list[list[str]]:
    """One example cycle per loop that neither a decision limit nor user input bounds.

    A decision with `max_passes` bounds a loop only if its `on_limit` leaves the loop.
    """
    graph = successors(nodes)
    problems: list[list[str]] = []
    for component in strongly_connected(nodes):
        if not _cyclic(component, graph):
            continue
        members = set(component)
        bounded = any(_bounds_loop(nodes[n], members) for n in component)
        if not bounded:
            problems.append(_a_cycle(component[0], members, graph))
    return problems


def _bounds_loop(node: Node, members: set[str]) -> bool:
    if isinstance(node, InputNode):
        return True
    return (
        isinstance(node, DecisionNode)
        and node.max_passes is not None
        and node.on_limit not in members
    )


def _a_cycle(start: str, members: set[str], graph: Mapping[str, list[str]]) -> list[str]:
    """A concrete cycle through `start` inside one strongly connected component."""
    path = [start]
    seen = {start}
    parents: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in graph[node]:
            if target == start:
                cycle = [node]
                while cycle[-1] != start:
                    cycle.append(parents[cycle[-1]])
                return list(reversed(cycle))
            if target in members and target not in seen:
                seen.add(target)
                parents[target] = node
                queue.append(target)
    return path


def branch_problem(nodes: Mapping[str, Node], entry: str, join: str) -> str | None:
    """Why a parallel branch starting at `entry` does not always reach `join`, if so."""
    graph = successors(nodes)
    seen = {entry}
    stack = [entry]
    while stack:
        node_id = stack.pop()
        node = nodes[node_id]
        if node.kind == "end":
            return f"branch '{entry}' reaches end node '{node_id}' before join '{join}'"
        targets = graph[node_id]
        if isinstance(node, ParallelNode):
            targets = [node.join]  # nested block: continue after its own join
        if not targets:
            return f"branch '{entry}' stops at '{node_id}' without reaching join '{join}'"
        for target in targets:
            if target != join and target not in seen:
                seen.add(target)
                stack.append(target)
    return None
