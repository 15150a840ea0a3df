// The names an expression at a node can read, mirroring the compiler's reference checks
// (workflows/scope.py defines the roots once; workflows/compiler.py `_ScopeContext`
// says which keys each root accepts). tests/studio/test_scope_names.py keeps the roots equal.

import { REFERENCE_FIELDS, type EdgeRole } from "./graph";
import { isRecord, type TreeDoc } from "./model";

/** The scope roots of workflows/scope.py `RunScope`, in its order. */
export const SCOPE_ROOTS = ["inputs", "state", "results", "tools", "errors", "passes", "tasks", "run", "conversation"] as const;

/** Keys of the `conversation` root (workflows/conversation_models.py). */
const CONVERSATION_KEYS = ["id", "turn", "turns", "last"];
/** Keys of the `run` root (workflows/tree_interpreter.py `scope`). */
const RUN_KEYS = ["workflow_id", "tenant_id", "tree", "steps"];

export interface ScopeName {
  /** What to type: `inputs.question`, `results.search`. */
  path: string;
  /** Why it is there, for the list under an expression field. */
  note: string;
}

function successors(tree: TreeDoc, id: string): string[] {
  const node = tree.nodes[id];
  if (!node) return [];
  const out: string[] = [];
  if (Array.isArray(node.branches)) {
    for (const branch of node.branches) {
      const to: unknown = isRecord(branch) ? branch.to : branch;
      if (typeof to === "string") out.push(to);
    }
  }
  for (const role of REFERENCE_FIELDS[node.kind] as readonly EdgeRole[]) {
    const target = node[role];
    if (typeof target === "string") out.push(target);
  }
  return out;
}

/** Nodes that can run before `id` (every node with a path to it), in tree order. */
export function earlierNodes(tree: TreeDoc, id: string): string[] {
  const before = new Set<string>();
  const ids = Object.keys(tree.nodes);
  const preds = new Map<string, string[]>(ids.map((n) => [n, []]));
  for (const source of ids) for (const target of successors(tree, source)) preds.get(target)?.push(source);
  const queue = [...(preds.get(id) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (before.has(next)) continue;
    before.add(next);
    queue.push(...(preds.get(next) ?? []));
  }
  return ids.filter((n) => before.has(n) && n !== id);
}

function toolName(constraint: unknown): string | null {
  if (typeof constraint !== "string" || constraint === "") return null;
  return constraint.split("@", 1)[0] ?? null;
}

/**
 * The names in scope at `nodeId`: declared inputs, state keys (declared, `set`, `save_as`),
 * results of the nodes that run before it, the tools it may read, passes of decisions,
 * and `tasks`, `run`, `conversation`. `extra` adds field-local names (`result` in `set`).
 */
export function scopeNames(tree: TreeDoc, nodeId: string, extra: readonly string[] = []): ScopeName[] {
  const names: ScopeName[] = extra.map((name) => ({ path: name, note: "this step's result" }));
  const inputs = isRecord(tree.inputs) ? Object.keys(tree.inputs) : [];
  for (const input of inputs) names.push({ path: `inputs.${input}`, note: "tree input" });
  if (!isRecord(tree.inputs)) names.push({ path: "inputs", note: "run inputs (none declared)" });
  const state = new Set(isRecord(tree.state) ? Object.keys(tree.state) : []);
  const tools = new Set<string>();
  for (const node of Object.values(tree.nodes)) {
    if (node.kind === "tool") {
      if (isRecord(node.set)) for (const key of Object.keys(node.set)) state.add(key);
      const name = toolName(node.tool);
      if (name) tools.add(name);
    } else if (node.kind === "input" && typeof node.save_as === "string") {
      state.add(node.save_as);
    }
  }
  for (const key of state) names.push({ path: `state.${key}`, note: "state key" });
  for (const id of earlierNodes(tree, nodeId)) names.push({ path: `results.${id}`, note: `result of ${tree.nodes[id]!.kind} node` });
  for (const name of tools) {
    names.push({ path: `tools.${name}`, note: "latest result of the tool" });
    names.push({ path: `errors.${name}`, note: "errors of the tool" });
  }
  for (const [id, node] of Object.entries(tree.nodes)) {
    if (node.kind === "decision") names.push({ path: `passes.${id}`, note: "times the decision ran" });
  }
  names.push({ path: "tasks", note: "tasks of the run" });
  for (const key of RUN_KEYS) names.push({ path: `run.${key}`, note: "this run" });
  for (const key of CONVERSATION_KEYS) names.push({ path: `conversation.${key}`, note: "earlier turns of the conversation" });
  return names;
}
