import { describe, expect, it } from "vitest";
import { earlierNodes, scopeNames, SCOPE_ROOTS } from "../src/tree/scope";
import { parseTree } from "../src/tree/yamlText";
import { shippedTemplates } from "./templates";

const tree = parseTree(`name: s
inputs: {question: {type: string}}
state: {count: 0}
start: ask
nodes:
  ask: {kind: input, prompt: "?", save_as: answer, next: pick}
  pick:
    kind: decision
    branches: [{to: search, when: "state.answer == 'y'"}, {to: done}]
  search: {kind: tool, tool: summarize@^1, set: {summary: "{{ result.text }}"}, next: done}
  fan: {kind: parallel, branches: [search], join: done}
  done: {kind: end}
`).tree!;

describe("names in scope at a node", () => {
  it("lists the nodes that can run before a node", () => {
    expect(earlierNodes(tree, "search")).toEqual(["ask", "pick", "fan"]);
    expect(earlierNodes(tree, "ask")).toEqual([]);
    expect(earlierNodes(tree, "nowhere")).toEqual([]);
  });

  it("mirrors the compiler: inputs, state keys, earlier results, tools, passes", () => {
    const paths = scopeNames(tree, "done", ["result"]).map((n) => n.path);
    expect(paths.slice(0, 2)).toEqual(["result", "inputs.question"]);
    for (const path of ["state.count", "state.answer", "state.summary", "results.search", "results.pick", "tools.summarize", "errors.summarize", "passes.pick", "tasks", "run.tree", "conversation.turns"]) {
      expect(paths).toContain(path);
    }
    expect(paths).not.toContain("results.done");
    expect(scopeNames(tree, "ask").map((n) => n.path)).not.toContain("results.pick");
    // Every name starts with a root of workflows/scope.py.
    for (const path of paths.slice(1)) expect(SCOPE_ROOTS).toContain(path.split(".")[0]);
  });

  it("offers bare `inputs` when the tree declares none", () => {
    const bare = parseTree("name: b\nstart: d\nnodes: {d: {kind: end}, t: {kind: tool, tool: ''}}\n").tree!;
    expect(scopeNames(bare, "d").map((n) => n.path)).toContain("inputs");
  });

  it("names only declared things for every shipped template", () => {
    for (const { text } of shippedTemplates()) {
      const t = parseTree(text).tree!;
      for (const id of Object.keys(t.nodes)) {
        for (const { path } of scopeNames(t, id)) {
          const [root, key] = path.split(".");
          if (root === "results") expect(t.nodes).toHaveProperty(key!);
        }
      }
    }
  });
});
