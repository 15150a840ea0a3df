// Tree <-> graph: nodes are the tree's nodes, edges are its references in order.
//
// `treeToGraph` moves every reference out of the nodes into edges (a decision's
// branches keep their other fields on the edge) and `graphToTree` puts them back,
// so the canvas can never hold a fact the YAML does not.

import { isRecord, type NodeKind, type TreeDoc, type TreeNode } from "./model";

/** How an edge leaves its source node; `order` keeps branch order. */
export type EdgeRole = "branch" | "next" | "on_error" | "on_limit" | "on_end" | "on_timeout" | "join";

export interface GraphNode {
  id: string;
  kind: NodeKind;
  /** The node's fields minus its references. */
  data: Record<string, unknown>;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  role: EdgeRole;
  order: number;
  /** A decision branch's other fields (id, when, description, keywords...). */
  branch?: Record<string, unknown>;
}

export interface TreeGraph {
  start: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Everything of the tree that is not a node (name, inputs, limits...). */
  meta: Record<string, unknown>;
}

/** Single-valued reference fields per kind, in the order edges are listed. */
export const REFERENCE_FIELDS: Record<NodeKind, readonly EdgeRole[]> = {
  decision: ["on_limit", "on_end"],
  tool: ["next", "on_error"],
  input: ["next", "on_timeout"],
  parallel: ["join"],
  subtree: ["next", "on_error"],
  end: [],
};

const hasBranches = (kind: NodeKind): boolean => kind === "decision" || kind === "parallel";

export function edgeId(source: string, role: EdgeRole, order: number): string {
  return `${source}:${role}:${order}`;
}

export function treeToGraph(tree: TreeDoc): TreeGraph {
  const { nodes: treeNodes, start, ...meta } = tree;
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  for (const [id, node] of Object.entries(treeNodes)) {
    const data: Record<string, unknown> = { ...node };
    delete data.kind;
    if (hasBranches(node.kind) && Array.isArray(node.branches)) {
      delete data.branches;
      node.branches.forEach((branch: unknown, order) => {
        if (node.kind === "parallel") {
          edges.push({ id: edgeId(id, "branch", order), source: id, target: String(branch), role: "branch", order });
          return;
        }
        const { to, ...rest } = isRecord(branch) ? branch : { to: branch };
        edges.push({
          id: edgeId(id, "branch", order),
          source: id,
          target: String(to ?? ""),
          role: "branch",
          order,
          branch: rest,
        });
      });
    }
    for (const role of REFERENCE_FIELDS[node.kind]) {
      const target = node[role];
      if (typeof target === "string") {
        delete data[role];
        edges.push({ id: edgeId(id, role, 0), source: id, target, role, order: 0 });
      }
    }
    nodes.push({ id, kind: node.kind, data });
  }
  return { start, nodes, edges, meta };
}

export function graphToTree(graph: TreeGraph): TreeDoc {
  const nodes: Record<string, TreeNode> = {};
  for (const node of graph.nodes) {
    const out: TreeNode = { kind: node.kind, ...node.data };
    const outgoing = graph.edges.filter((e) => e.source === node.id);
    const branches = outgoing.filter((e) => e.role === "branch").sort((a, b) => a.order - b.order);
    if (hasBranches(node.kind)) {
      out.branches = branches.map((e) => (node.kind === "parallel" ? e.target : { ...e.branch, to: e.target }));
    }
    for (const edge of outgoing) {
      if (edge.role !== "branch") out[edge.role] = edge.target;
    }
    nodes[node.id] = out;
  }
  return { ...graph.meta, start: graph.start, nodes } as TreeDoc;
}

/** Targets no node of the graph has: the canvas leaves them out, the checklist names them. */
export function danglingEdges(graph: TreeGraph): GraphEdge[] {
  const ids = new Set(graph.nodes.map((n) => n.id));
  return graph.edges.filter((e) => !ids.has(e.target));
}
