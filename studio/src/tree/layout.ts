// Derived positions: ELK's layered layout, top to bottom, keeping branch order.
//
// Positions are never stored in the tree. Each node's outgoing edges leave through
// ports in a fixed order (branches first, in their order), and ELK keeps the model
// order of nodes and edges, so branch 1 is drawn left of branch 2.

import type { ELK as ElkEngine, ElkExtendedEdge, ElkNode, ElkPort } from "elkjs/lib/elk-api";
import elkWorkerUrl from "elkjs/lib/elk-worker.min.js?url";
import type { GraphEdge, TreeGraph } from "./graph";

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;
const ROLE_ORDER = ["branch", "next", "join", "on_error", "on_limit", "on_end", "on_timeout"];

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

let engine: Promise<ElkEngine> | null = null;

/** ELK is large: it loads with the canvas code, not with the first page. In the browser
 * it runs in a web worker (a large layout never blocks input); under Node (the unit
 * tests) in-thread. */
function elk(): Promise<ElkEngine> {
  engine ??=
    typeof Worker === "undefined"
      ? import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK())
      : import("elkjs/lib/elk-api.js").then(({ default: ELK }) => new ELK({ workerUrl: elkWorkerUrl }));
  return engine;
}

// In the browser the worker starts when the canvas code loads, while the tree is still
// being fetched: loading a cold ELK (1.4 MB of script) is much of a first layout.
if (typeof Worker !== "undefined") void elk();

function outgoingInOrder(graph: TreeGraph, source: string): GraphEdge[] {
  return graph.edges
    .filter((e) => e.source === source)
    .sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.order - b.order);
}

export async function layoutGraph(graph: TreeGraph): Promise<Map<string, Box>> {
  const ids = new Set(graph.nodes.map((n) => n.id));
  const edges: ElkExtendedEdge[] = [];
  const children: ElkNode[] = graph.nodes.map((node) => {
    const outgoing = outgoingInOrder(graph, node.id).filter((e) => ids.has(e.target));
    // Port indices run clockwise: on the south side, a higher index is further left.
    const ports: ElkPort[] = outgoing.map((edge, i) => ({
      id: `${edge.id}>out`,
      layoutOptions: { "elk.port.side": "SOUTH", "elk.port.index": String(outgoing.length - i) },
    }));
    ports.push({ id: `${node.id}>in`, layoutOptions: { "elk.port.side": "NORTH" } });
    for (const edge of outgoing) {
      edges.push({ id: edge.id, sources: [`${edge.id}>out`], targets: [`${edge.target}>in`] });
    }
    return {
      id: node.id,
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      ports,
      layoutOptions: { "elk.portConstraints": "FIXED_ORDER" },
    };
  });
  const layouter = await elk();
  const started = performance.now();
  const root = await layouter.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
      "elk.spacing.nodeNode": "40",
      "elk.layered.spacing.nodeNodeBetweenLayers": "60",
      "elk.edgeRouting": "ORTHOGONAL",
    },
    children,
    edges,
  });
  // bench.studio_open reads this measure: the layout alone (in the worker, whose start the first one includes).
  performance.measure("treeflow:layout", { start: started });
  const boxes = new Map<string, Box>();
  for (const child of root.children ?? []) {
    boxes.set(child.id, { x: child.x ?? 0, y: child.y ?? 0, width: child.width ?? NODE_WIDTH, height: child.height ?? NODE_HEIGHT });
  }
  return boxes;
}
