// A linear-time layered layout for acyclic trees (the hot path of opening a tree).
//
// Measured (bench.studio_open, 2026-12-02): ELK's layered layout of the generated
// 500-node tree took 1.2-2.5 s in its worker, plus loading and compiling ELK's 1.4 MB
// worker script; it was most of the editor's time to interactive (50 nodes: most of
// the ~0.6 s layout is ELK starting). Trees are directed acyclic graphs whose branch
// order is given, so the general machinery (crossing minimisation, network-simplex
// placement) buys nothing here. This module places them in a few milliseconds:
//
// * layers: longest path from the roots (every edge points down);
// * a spanning tree: a node reached by one node hangs under it; a node reached by
//   several (a merge) hangs under their lowest common ancestor, centred under it;
// * x: Reingold-Tilford style, bottom-up: each subtree keeps its per-layer left/right
//   contour, siblings are packed left to right in branch order as close as their
//   contours allow (40 px apart), a parent is centred over its branches.
//
// Two nodes never overlap: a node's descendants are in deeper layers, and siblings'
// subtrees are separated layer by layer. A graph with a cycle (a loop back) returns
// null: layout.ts gives those to ELK.
import type { GraphEdge, TreeGraph } from "./graph";

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;
export const NODE_GAP = 40;
export const LAYER_GAP = 60;
const ROLE_ORDER = ["branch", "next", "join", "on_error", "on_limit", "on_end", "on_timeout"];
const ROOT = "\u0000root";

/** Outgoing edges of every node to nodes of the graph: branches first, in their order. */
export function outgoingByNode(graph: TreeGraph): Map<string, GraphEdge[]> {
  const out = new Map<string, GraphEdge[]>(graph.nodes.map((n) => [n.id, []]));
  for (const edge of graph.edges) if (out.has(edge.target)) out.get(edge.source)?.push(edge);
  for (const list of out.values()) {
    list.sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.order - b.order);
  }
  return out;
}

/** Per-layer [left, right] extent of a subtree, relative to its root's centre. */
type Contour = Map<number, [number, number]>;

/** The smallest shift of `next` that puts it right of `placed` in every shared layer. */
function clearShift(placed: Contour, next: Contour): number {
  let shift = -Infinity;
  for (const [layer, [left]] of next) {
    const other = placed.get(layer);
    if (other) shift = Math.max(shift, other[1] + NODE_GAP - left);
  }
  return shift;
}

function absorb(into: Contour, from: Contour, shift: number): void {
  for (const [layer, [left, right]] of from) {
    const mine = into.get(layer);
    if (mine) into.set(layer, [Math.min(mine[0], left + shift), Math.max(mine[1], right + shift)]);
    else into.set(layer, [left + shift, right + shift]);
  }
}

/** Boxes of every node, or null when the graph has a cycle. */
export function tidyLayout(graph: TreeGraph): Map<string, Box> | null {
  const out = outgoingByNode(graph);
  // Depth-first from the start, then from any node it does not reach, in branch order.
  const state = new Map<string, 1 | 2>(); // 1: on the path, 2: done
  const postorder: string[] = [];
  const roots: string[] = [];
  const starts = [graph.start, ...graph.nodes.map((n) => n.id)].filter((id) => out.has(id));
  for (const start of starts) {
    if (state.has(start)) continue;
    roots.push(start);
    const stack: [string, number][] = [[start, 0]];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edges = out.get(top[0])!;
      if (top[1] === edges.length) {
        stack.pop();
        state.set(top[0], 2);
        postorder.push(top[0]);
        continue;
      }
      const target = edges[top[1]++]!.target;
      const seen = state.get(target);
      if (seen === 1) return null; // a loop back: not a layered tree
      if (seen === undefined) {
        state.set(target, 1);
        stack.push([target, 0]);
      }
    }
  }
  const order = postorder.reverse(); // topological: every edge points later
  const sources = new Map<string, string[]>(order.map((id) => [id, []]));
  for (const id of order) for (const edge of out.get(id)!) sources.get(edge.target)!.push(id);
  const layer = new Map<string, number>();
  for (const id of order) layer.set(id, Math.max(0, ...sources.get(id)!.map((s) => layer.get(s)! + 1)));

  // Spanning tree: one source, or the lowest common ancestor of several (a merge).
  const parent = new Map<string, string>();
  const depth = new Map<string, number>([[ROOT, 0]]);
  const branchKids = new Map<string, string[]>([[ROOT, []]]);
  const mergeKids = new Map<string, string[]>([[ROOT, []]]);
  for (const id of order) {
    branchKids.set(id, []);
    mergeKids.set(id, []);
  }
  const commonAncestor = (a: string, b: string): string => {
    while (a !== b) {
      if (depth.get(a)! >= depth.get(b)!) a = parent.get(a) ?? ROOT;
      else b = parent.get(b) ?? ROOT;
    }
    return a;
  };
  for (const id of order) {
    const from = [...new Set(sources.get(id)!)];
    let up: string;
    if (from.length === 1) {
      up = from[0]!;
    } else if (from.length === 0) {
      up = ROOT;
    } else {
      up = from.reduce(commonAncestor);
      mergeKids.get(up)!.push(id);
    }
    if (from.length <= 1) branchKids.get(up)!.push(id);
    parent.set(id, up);
    depth.set(id, depth.get(up)! + 1);
  }
  // Children hang in branch order (the order of the edges that reach them first).
  const rank = new Map<string, number>();
  let next = 0;
  for (const root of roots) rank.set(root, next++);
  for (const id of order) for (const edge of out.get(id)!) if (!rank.has(edge.target)) rank.set(edge.target, next++);
  for (const kids of branchKids.values()) kids.sort((a, b) => rank.get(a)! - rank.get(b)!);

  // Bottom-up: each node's children's offsets from it, and its subtree's contour.
  const offset = new Map<string, number>();
  const contours = new Map<string, Contour>();
  for (const id of [...order.slice().reverse(), ROOT]) {
    const merged: Contour = new Map();
    const kids = branchKids.get(id)!;
    let previous = -Infinity;
    for (const kid of kids) {
      const contour = contours.get(kid)!;
      // In branch order: never left of the previous branch, even on another layer.
      const shift = merged.size === 0 ? 0 : Math.max(clearShift(merged, contour), previous + 1);
      offset.set(kid, shift);
      absorb(merged, contour, shift);
      previous = shift;
    }
    const centre = kids.length > 0 ? (offset.get(kids[0]!)! + previous) / 2 : 0;
    for (const kid of kids) offset.set(kid, offset.get(kid)! - centre);
    const own: Contour = new Map();
    absorb(own, merged, -centre);
    // A merge goes under this node, or right of whatever it would touch.
    for (const kid of mergeKids.get(id)!) {
      const contour = contours.get(kid)!;
      const shift = Math.max(0, clearShift(own, contour));
      offset.set(kid, shift);
      absorb(own, contour, shift);
    }
    if (id !== ROOT) own.set(layer.get(id)!, [-NODE_WIDTH / 2, NODE_WIDTH / 2]);
    contours.set(id, own);
    for (const kid of [...kids, ...mergeKids.get(id)!]) contours.delete(kid);
  }
  const centres = new Map<string, number>([[ROOT, 0]]);
  for (const id of order) centres.set(id, centres.get(parent.get(id)!)! + offset.get(id)!);
  const left = Math.min(...order.map((id) => centres.get(id)!)) - NODE_WIDTH / 2;
  const boxes = new Map<string, Box>();
  for (const id of order) {
    boxes.set(id, {
      x: centres.get(id)! - NODE_WIDTH / 2 - left,
      y: layer.get(id)! * (NODE_HEIGHT + LAYER_GAP),
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
    });
  }
  return boxes;
}
