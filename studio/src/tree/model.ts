// The tree as the YAML says it: plain data, the one source of truth of the editor.

export const NODE_KINDS = ["decision", "tool", "input", "parallel", "subtree", "end"] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

export type TreeNode = { kind: NodeKind } & Record<string, unknown>;

export interface TreeDoc {
  name: string;
  start: string;
  nodes: Record<string, TreeNode>;
  [field: string]: unknown;
}

/** Tree names the compiler accepts (workflows/spec.py `TreeSpec.name`). */
export const TREE_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,99}$/;

/** What each node kind is for, shown in the palette. */
export const KIND_DESCRIPTIONS: Record<NodeKind, string> = {
  decision: "Choose one branch (rules, router or LLM)",
  tool: "Run a versioned tool",
  input: "Ask the user and wait for the answer",
  parallel: "Run branches at once, then join",
  subtree: "Run another tree",
  end: "Finish with an output",
};

export function isNodeKind(value: unknown): value is NodeKind {
  return typeof value === "string" && (NODE_KINDS as readonly string[]).includes(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A tree's shape, loosely: enough to draw it; the compile endpoint judges the rest. */
export function asTree(value: unknown): TreeDoc | null {
  if (!isRecord(value) || !isRecord(value.nodes)) return null;
  for (const node of Object.values(value.nodes)) {
    if (!isRecord(node) || !isNodeKind(node.kind)) return null;
  }
  return value as TreeDoc;
}
