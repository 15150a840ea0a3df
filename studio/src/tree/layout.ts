// Derived positions, top to bottom, keeping branch order: never stored in the tree.
//
// An acyclic tree (the usual case) is placed by tidyLayout.ts, in-thread, in
// milliseconds. A tree with a loop back goes to ELK's layered layout: each node's
// outgoing edges leave through ports in a fixed order (branches first, in their
// order), and ELK keeps the model order of nodes and edges, so branch 1 is drawn left
// of branch 2. ELK (1.4 MB) loads only then.

import type { ELK as ElkEngine, ElkExtendedEdge, ElkNode, ElkPort } from "elkjs/lib/elk-api";
import elkWorkerUrl from "elkjs/lib/elk-worker.min.js?url";
import type { TreeGraph } from "./graph";
import { LAYER_GAP, NODE_GAP, NODE_HEIGHT, NODE_WIDTH, outgoingByNode, tidyLayout, type Box } from "./tidyLayout";

export { NODE_HEIGHT, NODE_WIDTH, type Box };

let engine: Promise<ElkEngine> | null = null;

/** ELK is large: it loads only for a graph tidyLayout cannot place. In the browser
 * it runs in a web worker (a large layout never blocks input); under Node (the unit
 * tests) in-thread. */
function elk(): Promise<ElkEngine> {
  engine ??=
    typeof Worker === "undefined"
      ? import("elkjs/lib/elk.bundled.js").then(({ default: ELK }) => new ELK())
      : import("elkjs/lib/elk-api.js").then(({ default: ELK }) => new ELK({ workerUrl: elkWorkerUrl }));
  return engine;
}

/** Boxes of every node of the graph. bench.studio_open reads the `treeflow:layout`
 * performance measure: the layout alone (ELK's includes starting its worker). */
export async function layoutGraph(graph: TreeGraph): Promise<Map<string, Box>> {
  return layoutNow(graph) ?? elkLayout(graph);
}

/** The layout without waiting, when tidyLayout can place the graph (no cycle). */
export function layoutNow(graph: TreeGraph): Map<string, Box> | null {
  const started = performance.now();
  const tidy = tidyLayout(graph);
  if (tidy) performance.measure("treeflow:layout", { start: started });
  return tidy;
}

/** ELK's layered layout: for graphs with a cycle. */
export async function elkLayout(graph: TreeGraph): Promise<Map<string, Box>> {
  const out = outgoingByNode(graph);
  const edges: ElkExtendedEdge[] = [];
  const children: ElkNode[] = graph.nodes.map((node) => {
    const outgoing = out.get(node.id)!;
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
      "elk.spacing.nodeNode": String(NODE_GAP),
      "elk.layered.spacing.nodeNodeBetweenLayers": String(LAYER_GAP),
      "elk.edgeRouting": "ORTHOGONAL",
    },
    children,
    edges,
  });
  performance.measure("treeflow:layout", { start: started });
  const boxes = new Map<string, Box>();
  for (const child of root.children ?? []) {
    boxes.set(child.id, { x: child.x ?? 0, y: child.y ?? 0, width: child.width ?? NODE_WIDTH, height: child.height ?? NODE_HEIGHT });
  }
  return boxes;
}
