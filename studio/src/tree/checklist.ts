// Compile problems -> checklist items pinned to the node and field they are about.

export interface FieldProblem {
  field: string;
  message: string;
}

export interface ChecklistItem {
  /** The node the problem is about, or null for the tree as a whole. */
  nodeId: string | null;
  /** The field inside the node (`args.limit`, `branches.0.to`), or of the tree. */
  field: string;
  message: string;
}

const SOURCE_PREFIXES = ["body.source.", "body.spec.", "body.source", "body.spec"];

/** Map the API's problem fields (`body.source.nodes.search.args.limit`) to nodes. */
export function checklistOf(problems: readonly FieldProblem[], nodeIds: Iterable<string>): ChecklistItem[] {
  const known = new Set(nodeIds);
  return problems.map(({ field, message }) => {
    // The compiler writes list indexes as `branches[0]`; the inspector's fields use `branches.0`.
    let path = field.replace(/\[(\d+)\]/g, ".$1");
    for (const prefix of SOURCE_PREFIXES) {
      if (path.startsWith(prefix)) {
        path = path.slice(prefix.length);
        break;
      }
    }
    const match = /^nodes\.([^.]+)(?:\.(.*))?$/.exec(path);
    if (match && match[1] !== undefined && known.has(match[1])) {
      return { nodeId: match[1], field: match[2] ?? "", message };
    }
    return { nodeId: null, field: path, message };
  });
}

/** Items per node id, for badges on the canvas. */
export function problemsByNode(items: readonly ChecklistItem[]): Map<string, ChecklistItem[]> {
  const byNode = new Map<string, ChecklistItem[]>();
  for (const item of items) {
    if (item.nodeId === null) continue;
    byNode.set(item.nodeId, [...(byNode.get(item.nodeId) ?? []), item]);
  }
  return byNode;
}
