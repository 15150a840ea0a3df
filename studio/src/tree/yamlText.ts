// Edits of a tree's YAML text that keep its comments and layout (the `yaml` Document API).
//
// The canvas, the palette and the inspector all edit through these functions, so the
// YAML view and the canvas always show the same tree.

import { Document, isMap, isSeq, parseDocument } from "yaml";
import { REFERENCE_FIELDS } from "./graph";
import { asTree, isNodeKind, type NodeKind, type TreeDoc } from "./model";

export interface Parsed {
  tree: TreeDoc | null;
  error: string | null;
}

export function parseTree(text: string): Parsed {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { tree: null, error: doc.errors[0]?.message ?? "invalid YAML" };
  const tree = asTree(doc.toJS());
  if (tree === null) return { tree: null, error: "a tree needs `nodes`, each with a known `kind`" };
  return { tree, error: null };
}

export function stringifyTree(tree: TreeDoc): string {
  return new Document(tree).toString({ lineWidth: 0 });
}

function edit(text: string, change: (doc: Document) => void): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error("fix the YAML first: " + doc.errors[0]?.message);
  change(doc);
  return doc.toString({ lineWidth: 0 });
}

function kindOf(doc: Document, id: string): NodeKind {
  const kind: unknown = doc.getIn(["nodes", id, "kind"]);
  if (!isNodeKind(kind)) throw new Error(`no node '${id}'`);
  return kind;
}

/** The fields a new node of each kind starts with. */
export function newNode(kind: NodeKind, tool?: string): Record<string, unknown> {
  switch (kind) {
    case "decision":
      return { kind, strategy: "rules", branches: [] };
    case "tool":
      return { kind, tool: tool ?? "text_response@^1", args: {} };
    case "input":
      return { kind, prompt: "Your answer?", save_as: "answer" };
    case "parallel":
      return { kind, branches: [], join: "" };
    case "subtree":
      return { kind, tree: "" };
    case "end":
      return { kind, output: {} };
  }
}

/** A free node id from a stem: `search`, `search_2`, ... */
export function freeId(tree: TreeDoc | null, stem: string): string {
  const base = stem.replace(/[^A-Za-z0-9_]/g, "_").replace(/^([^A-Za-z_])/, "_$1") || "node";
  const taken = new Set(Object.keys(tree?.nodes ?? {}));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}_${n}`)) return `${base}_${n}`;
}

export function addNode(text: string, id: string, fields: Record<string, unknown>): string {
  return edit(text, (doc) => {
    if (doc.hasIn(["nodes", id])) throw new Error(`node '${id}' exists`);
    doc.setIn(["nodes", id], doc.createNode(fields));
  });
}

/** Connect `source` to `target`: a new last branch, or the `next` of a step. */
export function connect(text: string, source: string, target: string): string {
  return edit(text, (doc) => {
    kindOf(doc, target);
    const kind = kindOf(doc, source);
    if (kind === "end") throw new Error("an end node has no successor");
    if (kind === "decision" || kind === "parallel") {
      const branches = doc.getIn(["nodes", source, "branches"]);
      const entry = kind === "decision" ? doc.createNode({ to: target }) : target;
      if (isSeq(branches)) branches.add(entry);
      else doc.setIn(["nodes", source, "branches"], doc.createNode([kind === "decision" ? { to: target } : target]));
      return;
    }
    doc.setIn(["nodes", source, "next"], target);
  });
}

/** Remove a node and every reference to it (branches to it, `next`, `on_error`...). */
export function deleteNode(text: string, id: string): string {
  return edit(text, (doc) => {
    kindOf(doc, id);
    doc.deleteIn(["nodes", id]);
    const nodes = doc.get("nodes");
    if (!isMap(nodes)) return;
    for (const pair of nodes.items) {
      const nodeId = String((pair.key as { value?: unknown })?.value ?? pair.key);
      const kind: unknown = doc.getIn(["nodes", nodeId, "kind"]);
      if (!isNodeKind(kind)) continue;
      for (const role of REFERENCE_FIELDS[kind]) {
        if (doc.getIn(["nodes", nodeId, role]) === id) doc.deleteIn(["nodes", nodeId, role]);
      }
      const branches = doc.getIn(["nodes", nodeId, "branches"]);
      if (isSeq(branches)) {
        for (let i = branches.items.length - 1; i >= 0; i--) {
          const to = kind === "parallel" ? doc.getIn(["nodes", nodeId, "branches", i]) : doc.getIn(["nodes", nodeId, "branches", i, "to"]);
          if (to === id) branches.delete(i);
        }
      }
    }
  });
}

/** Set (or, with `undefined`, remove) one field of a node: `["args", "limit"]`. */
export function setNodeField(text: string, id: string, path: (string | number)[], value: unknown): string {
  return edit(text, (doc) => {
    kindOf(doc, id);
    const at = ["nodes", id, ...path];
    if (value === undefined || value === "") doc.deleteIn(at);
    else doc.setIn(at, doc.createNode(value));
  });
}

/** Set a top-level field (`start`, `description`...). */
export function setTreeField(text: string, field: string, value: unknown): string {
  return edit(text, (doc) => {
    doc.set(field, value);
  });
}

/** The text of a new tree: one end node, so it compiles from the first keystroke. */
export function newTreeText(name: string, description = "A new tree"): string {
  return stringifyTree({
    name,
    description,
    start: "done",
    nodes: { done: { kind: "end", output: {} } },
  });
}
