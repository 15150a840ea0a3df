import { describe, expect, it } from "vitest";
import { treeToGraph } from "../src/tree/graph";
import { layoutGraph, type Box } from "../src/tree/layout";
import { parseTree } from "../src/tree/yamlText";
import { shippedTemplates } from "./templates";

const overlap = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe.each(shippedTemplates().map((t) => [t.name, t.text] as const))("layout of %s", (_name, text) => {
  const graph = treeToGraph(parseTree(text).tree!);

  it("places every node, none overlapping", async () => {
    const boxes = await layoutGraph(graph);
    expect([...boxes.keys()].sort()).toEqual(graph.nodes.map((n) => n.id).sort());
    const all = [...boxes.entries()];
    for (const [i, [idA, a]] of all.entries()) {
      for (const [idB, b] of all.slice(i + 1)) {
        expect(overlap(a, b), `${idA} overlaps ${idB}`).toBe(false);
      }
    }
  });

  it("draws the branches of each decision left to right in their order", async () => {
    const boxes = await layoutGraph(graph);
    for (const node of graph.nodes.filter((n) => n.kind === "decision" || n.kind === "parallel")) {
      const targets = graph.edges
        .filter((e) => e.source === node.id && e.role === "branch")
        .sort((a, b) => a.order - b.order)
        .map((e) => e.target)
        .filter((t, i, all) => all.indexOf(t) === i && boxes.has(t));
      // Compare targets drawn in one layer (a shared or looping target may sit elsewhere).
      const layerY = Math.min(...targets.map((t) => boxes.get(t)!.y));
      const inLayer = targets.filter((t) => boxes.get(t)!.y === layerY);
      const xs = inLayer.map((t) => boxes.get(t)!.x);
      expect(xs, `${node.id} -> ${inLayer.join(", ")}`).toEqual([...xs].sort((a, b) => a - b));
    }
  });
});

describe("layout", () => {
  it("keeps branch order when the branches are listed in reverse of the node order", async () => {
    const text = `name: t
start: pick
nodes:
  c: {kind: end}
  b: {kind: end}
  a: {kind: end}
  pick:
    kind: decision
    branches: [{to: a, when: "true"}, {to: b}, {to: c}]
`;
    const boxes = await layoutGraph(treeToGraph(parseTree(text).tree!));
    const [a, b, c] = ["a", "b", "c"].map((id) => boxes.get(id)!);
    expect(a!.x).toBeLessThan(b!.x);
    expect(b!.x).toBeLessThan(c!.x);
    expect(boxes.get("pick")!.y).toBeLessThan(a!.y);
  });
});
