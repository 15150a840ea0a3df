import { describe, expect, it } from "vitest";
import { treeToGraph, type TreeGraph } from "../src/tree/graph";
import { layoutGraph } from "../src/tree/layout";
import { NODE_GAP, tidyLayout, type Box } from "../src/tree/tidyLayout";
import { parseTree } from "../src/tree/yamlText";
import { shippedTemplates } from "./templates";

const graphOf = (text: string): TreeGraph => treeToGraph(parseTree(text).tree!);

function overlaps(boxes: Map<string, Box>): string[] {
  const all = [...boxes.entries()];
  const found: string[] = [];
  for (const [i, [idA, a]] of all.entries()) {
    for (const [idB, b] of all.slice(i + 1)) {
      if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) found.push(`${idA}/${idB}`);
    }
  }
  return found;
}

/** The shape bench.studio_open opens: stages of a 4-way decision whose chains merge. */
function staged(stages: number): string {
  const lines = ["name: staged", "start: decide_0", "nodes:"];
  for (let s = 0; s < stages; s++) {
    const branches = [0, 1, 2, 3].map((b) => `{id: b${b}, to: s${s}_b${b}_0, when: "true"}`).join(", ");
    lines.push(`  decide_${s}: {kind: decision, strategy: rules, branches: [${branches}]}`);
    for (let b = 0; b < 4; b++) {
      for (let step = 0; step < 4; step++) {
        const to = step < 3 ? `s${s}_b${b}_${step + 1}` : `merge_${s}`;
        lines.push(`  s${s}_b${b}_${step}: {kind: tool, tool: t, next: ${to}}`);
      }
    }
    lines.push(`  merge_${s}: {kind: tool, tool: t, next: ${s + 1 < stages ? `decide_${s + 1}` : "done"}}`);
  }
  lines.push("  done: {kind: end}");
  return lines.join("\n") + "\n";
}

describe("tidyLayout", () => {
  it("places every shipped template without ELK but the agent loops", () => {
    const looping: string[] = [];
    for (const { name, text } of shippedTemplates()) {
      const graph = graphOf(text);
      const boxes = tidyLayout(graph);
      if (boxes === null) looping.push(name);
      else expect([...boxes.keys()].sort(), name).toEqual(graph.nodes.map((n) => n.id).sort());
    }
    // Both are agent loops: each tool step goes back to the deciding node.
    expect(looping).toEqual(["document-digest", "ticket-agent"]);
  });

  it("lays out a 500-node staged tree: no overlap, branches in order, merges centred, narrow", () => {
    const graph = graphOf(staged(27));
    expect(graph.nodes.length).toBe(27 * 18 + 1);
    const boxes = tidyLayout(graph)!;
    expect(overlaps(boxes)).toEqual([]);
    for (let s = 0; s < 27; s++) {
      const xs = [0, 1, 2, 3].map((b) => boxes.get(`s${s}_b${b}_0`)!.x);
      expect(xs).toEqual([...xs].sort((a, b) => a - b));
      expect(new Set(xs).size).toBe(4);
      const decide = boxes.get(`decide_${s}`)!;
      expect(boxes.get(`merge_${s}`)!.x).toBe(decide.x);
      expect(decide.y).toBeLessThan(boxes.get(`s${s}_b0_0`)!.y);
      expect(boxes.get(`merge_${s}`)!.y).toBeGreaterThan(boxes.get(`s${s}_b3_3`)!.y);
    }
    // The stages stack: the width is one stage's (four columns), not growing with the count.
    const xs = [...boxes.values()].map((b) => b.x);
    expect(Math.max(...xs) - Math.min(...xs)).toBe(3 * (200 + NODE_GAP));
  });

  it("is deterministic", () => {
    const graph = graphOf(staged(3));
    expect([...tidyLayout(graph)!]).toEqual([...tidyLayout(graphOf(staged(3)))!]);
  });

  it("keeps branch order for shared targets, skipped layers and nodes the start does not reach", () => {
    const graph = graphOf(`name: t
start: pick
nodes:
  pick:
    kind: decision
    branches: [{to: long, when: "a"}, {to: short, when: "b"}, {to: short}, {to: tail}]
  long: {kind: tool, tool: t, next: longer}
  longer: {kind: tool, tool: t, next: tail}
  short: {kind: end}
  tail: {kind: end}
  orphan: {kind: tool, tool: t, next: orphan_end}
  orphan_end: {kind: end}
  stray: {kind: tool, tool: t, next: tail}
`);
    const boxes = tidyLayout(graph)!;
    expect(overlaps(boxes)).toEqual([]);
    expect([...boxes.keys()].sort()).toEqual(graph.nodes.map((n) => n.id).sort());
    const at = (id: string) => boxes.get(id)!;
    expect(at("long").x).toBeLessThan(at("short").x);
    expect(at("long").y).toBe(at("short").y);
    // tail is reached by pick, longer and stray: below all of them.
    expect(at("tail").y).toBeGreaterThan(at("longer").y);
    expect(at("orphan").y).toBe(at("pick").y);
    expect(at("orphan").x).toBeGreaterThan(at("pick").x);
    expect(at("orphan_end").y).toBeGreaterThan(at("orphan").y);
  });

  it("gives a graph with a loop back to ELK", async () => {
    const graph = graphOf(`name: t
start: ask
nodes:
  ask: {kind: input, next: check}
  check:
    kind: decision
    branches: [{to: ask, when: "again"}, {to: done}]
  done: {kind: end}
`);
    expect(tidyLayout(graph)).toBeNull();
    const boxes = await layoutGraph(graph);
    expect([...boxes.keys()].sort()).toEqual(["ask", "check", "done"]);
    expect(overlaps(boxes)).toEqual([]);
  });

  it("ignores edges to missing nodes and places a lone node", () => {
    const graph = graphOf("name: t\nstart: a\nnodes:\n  a: {kind: tool, tool: t, next: gone}\n");
    expect([...tidyLayout(graph)!]).toEqual([["a", { x: 0, y: 0, width: 200, height: 64 }]]);
  });
});
