import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CLIP_KEY, copyNodes, pasteNodes, readClip } from "../src/tree/clipboard";
import { newTreeText } from "../src/tree/yamlText";

const SOURCE = `name: a
start: pick
nodes:
  pick:
    kind: decision
    branches:
      - {id: yes, to: search, when: "inputs.x > 1"}
      - to: done
  search: {kind: tool, tool: summarize@^1, args: {text: hi}, next: done, on_error: oops}
  fan: {kind: parallel, branches: [search, done, gone], join: done}
  done: {kind: end}
`;

describe("copy and paste of nodes as YAML", () => {
  it("copies the chosen nodes in tree order under one key", () => {
    const clip = copyNodes(SOURCE, ["search", "pick"]);
    const value = parse(clip);
    expect(Object.keys(value[CLIP_KEY])).toEqual(["pick", "search"]);
    expect(value[CLIP_KEY].search.args).toEqual({ text: "hi" });
    expect(() => copyNodes(SOURCE, ["nothing"])).toThrow(/select a node/);
    expect(() => copyNodes("nodes: [", ["pick"])).toThrow(/YAML/);
  });

  it("reads only Treeflow node clips", () => {
    expect(readClip("hello")).toBeNull();
    expect(readClip("{")).toBeNull();
    expect(readClip(`${CLIP_KEY}: {}`)).toBeNull();
    expect(readClip(`${CLIP_KEY}: {a: {kind: nope}}`)).toBeNull();
    expect(readClip(`${CLIP_KEY}: {a: {kind: end}}`)).toEqual({ a: { kind: "end" } });
  });

  it("renames taken ids and rewrites references among the pasted nodes", () => {
    const clip = copyNodes(SOURCE, ["pick", "search", "done"]);
    const { text, ids } = pasteNodes(SOURCE, clip);
    expect(ids).toEqual(["pick_2", "search_2", "done_2"]);
    const nodes = parse(text).nodes;
    expect(nodes.pick_2.branches).toEqual([
      { id: "yes", to: "search_2", when: "inputs.x > 1" },
      { to: "done_2" },
    ]);
    // `oops` is in neither tree: the reference goes rather than dangle.
    expect(nodes.search_2).toEqual({ kind: "tool", tool: "summarize@^1", args: { text: "hi" }, next: "done_2" });
    expect(nodes.pick.branches[0].to).toBe("search"); // the originals are untouched
  });

  it("pastes into another tree, keeping references to nodes that tree has", () => {
    const clip = copyNodes(SOURCE, ["fan", "search"]);
    const other = newTreeText("b");
    const { text, ids } = pasteNodes(other, clip);
    expect(ids).toEqual(["search", "fan"]);
    const nodes = parse(text).nodes;
    expect(nodes.fan).toEqual({ kind: "parallel", branches: ["search", "done"], join: "done" });
    expect(nodes.search.next).toBe("done");
    expect(nodes.done).toEqual({ kind: "end", output: {} });
  });

  it("refuses text that is not nodes, and broken YAML", () => {
    expect(() => pasteNodes(SOURCE, "just words")).toThrow(/no Treeflow nodes/);
    const clip = copyNodes(SOURCE, ["done"]);
    expect(() => pasteNodes("nodes: [", clip)).toThrow(/YAML/);
    expect(parse(pasteNodes("name: x\n", clip).text).nodes).toEqual({ done: { kind: "end" } });
  });
});
