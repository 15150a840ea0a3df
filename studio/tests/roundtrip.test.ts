import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { danglingEdges, graphToTree, treeToGraph } from "../src/tree/graph";
import { parseTree, stringifyTree } from "../src/tree/yamlText";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { copyNodes, pasteNodes } from "../src/tree/clipboard";
import { shippedTemplates, TEMPLATES_DIR } from "./templates";

const templates = shippedTemplates();

describe("YAML <-> graph round trip", () => {
  it("finds every shipped template", () => {
    const dirs = readdirSync(TEMPLATES_DIR).filter((d) => statSync(join(TEMPLATES_DIR, d)).isDirectory() && d !== "__pycache__");
    expect(templates.map((t) => t.name)).toEqual(dirs.sort());
    expect(templates.length).toBeGreaterThanOrEqual(6);
  });

  it.each(templates.map((t) => [t.name, t.text] as const))("%s survives copy of all nodes and paste into an empty tree", (_name, text) => {
    const original = parse(text);
    const ids = Object.keys(original.nodes);
    const { text: pasted, ids: pastedIds } = pasteNodes("name: copy\nnodes: {}\n", copyNodes(text, ids));
    expect(pastedIds).toEqual(ids);
    expect(parse(pasted).nodes).toEqual(original.nodes);
  });

  it.each(templates.map((t) => [t.name, t.text] as const))("%s keeps its meaning", (_name, text) => {
    const original: unknown = parse(text);
    const { tree, error } = parseTree(text);
    expect(error).toBeNull();
    const graph = treeToGraph(tree!);
    // References live only on edges: a node's data never names another node.
    for (const node of graph.nodes) {
      for (const field of ["next", "on_error", "on_limit", "on_end", "on_timeout", "join", "branches"]) {
        expect(node.data).not.toHaveProperty(field);
      }
    }
    const again = parse(stringifyTree(graphToTree(graph)));
    expect(again).toEqual(original);
  });

  it("keeps branch order on the edges", () => {
    const text = templates.find((t) => t.name === "support-triage")!.text;
    const graph = treeToGraph(parseTree(text).tree!);
    const branches = graph.edges.filter((e) => e.source === "classify" && e.role === "branch");
    expect(branches.map((e) => [e.order, e.target, e.branch?.id])).toEqual([
      [0, "billing_policy", "billing"],
      [1, "severity", "bug"],
      [2, "howto_answer", "howto"],
    ]);
  });
});

describe("references to missing nodes", () => {
  it("stay on the graph as dangling edges (the checklist names them)", () => {
    const text = "name: t\nstart: a\nnodes:\n  a: {kind: tool, tool: x@^1, next: ghost}\n  b: {kind: end}\n";
    const graph = treeToGraph(parseTree(text).tree!);
    expect(danglingEdges(graph).map((e) => [e.source, e.target, e.role])).toEqual([["a", "ghost", "next"]]);
    expect(parse(stringifyTree(graphToTree(graph)))).toEqual(parse(text));
  });
});
