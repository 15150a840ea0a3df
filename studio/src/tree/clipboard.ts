// Copy/paste of nodes as YAML text (`treeflow-nodes:` mapping), also across trees.
//
// Copied nodes keep their references to each other; pasting renames ids that are taken
// (`search` -> `search_2`) and rewrites those references, and drops references to nodes
// the target tree does not have, so a paste never points at a wrong node.

import { isMap, parse, parseDocument, stringify } from "yaml";
import { REFERENCE_FIELDS } from "./graph";
import { asTree, isRecord, type TreeNode } from "./model";
import { freeId, parseTree } from "./yamlText";

/** The top-level key that marks clipboard text as Treeflow nodes. */
export const CLIP_KEY = "treeflow-nodes";

/** The YAML clipboard text of the named nodes of a tree (in the tree's order). */
export function copyNodes(text: string, ids: readonly string[]): string {
  const { tree } = parseTree(text);
  if (!tree) throw new Error("fix the YAML first");
  const picked: Record<string, TreeNode> = {};
  for (const id of Object.keys(tree.nodes)) if (ids.includes(id)) picked[id] = tree.nodes[id]!;
  if (Object.keys(picked).length === 0) throw new Error("select a node to copy");
  return stringify({ [CLIP_KEY]: picked }, { lineWidth: 0 });
}

/** The nodes of clipboard text, or null when it is not Treeflow nodes. */
export function readClip(clip: string): Record<string, TreeNode> | null {
  let value: unknown;
  try {
    value = parse(clip);
  } catch {
    return null;
  }
  if (!isRecord(value) || !isRecord(value[CLIP_KEY])) return null;
  const tree = asTree({ nodes: value[CLIP_KEY] });
  return tree && Object.keys(tree.nodes).length > 0 ? tree.nodes : null;
}

/** Rewrite one node's references through `rename`; a reference `rename` maps to null goes. */
function relink(node: TreeNode, rename: (id: string) => string | null): TreeNode {
  const out: TreeNode = { ...node };
  for (const role of REFERENCE_FIELDS[node.kind]) {
    const target = out[role];
    if (typeof target !== "string") continue;
    const to = rename(target);
    if (to === null) delete out[role];
    else out[role] = to;
  }
  if (Array.isArray(out.branches)) {
    const branches: unknown[] = [];
    for (const branch of out.branches as unknown[]) {
      if (isRecord(branch)) {
        const to = typeof branch.to === "string" ? rename(branch.to) : null;
        if (to !== null) branches.push({ ...branch, to });
      } else if (typeof branch === "string") {
        const to = rename(branch);
        if (to !== null) branches.push(to);
      }
    }
    out.branches = branches;
  }
  return out;
}

/** Paste clipboard nodes into a tree's text: the new text and the pasted ids (renamed). */
export function pasteNodes(text: string, clip: string): { text: string; ids: string[] } {
  const nodes = readClip(clip);
  if (!nodes) throw new Error("the clipboard holds no Treeflow nodes");
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error("fix the YAML first: " + doc.errors[0]?.message);
  const existing = parseTree(text).tree;
  const taken = { ...(existing?.nodes ?? {}) } as Record<string, TreeNode>;
  const renamed = new Map<string, string>();
  for (const id of Object.keys(nodes)) {
    const fresh = freeId({ name: "", start: "", nodes: taken }, id);
    renamed.set(id, fresh);
    taken[fresh] = nodes[id]!;
  }
  const rename = (id: string): string | null => renamed.get(id) ?? (existing?.nodes[id] ? id : null);
  if (!isMap(doc.get("nodes"))) doc.set("nodes", doc.createNode({}));
  for (const [id, node] of Object.entries(nodes)) {
    doc.setIn(["nodes", renamed.get(id)!], doc.createNode(relink(node, rename)));
  }
  return { text: doc.toString({ lineWidth: 0 }), ids: [...renamed.values()] };
}
