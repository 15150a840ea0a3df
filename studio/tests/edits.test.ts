import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { addNode, connect, deleteNode, freeId, newNode, parseTree, setNodeField, setTreeField } from "../src/tree/yamlText";
import { NODE_KINDS } from "../src/tree/model";

const BASE = `# a comment the editor keeps
name: t
start: pick
nodes:
  pick:
    kind: decision
    branches:
      - {to: a, when: "inputs.x > 1"}
      - to: b
  a: {kind: tool, tool: text_response@^1, args: {text: hi}, next: done}
  b: {kind: end}
  done: {kind: end}
`;

describe("YAML edits", () => {
  it("adds a node and keeps comments", () => {
    const text = addNode(BASE, "c", newNode("tool", "summarize@^1"));
    expect(text).toContain("# a comment the editor keeps");
    expect(parse(text).nodes.c).toEqual({ kind: "tool", tool: "summarize@^1", args: {} });
    expect(() => addNode(text, "c", newNode("end"))).toThrow(/exists/);
  });

  it("connects a decision by appending a branch, a step by setting next", () => {
    let text = addNode(BASE, "c", newNode("end"));
    text = connect(text, "pick", "c");
    expect(parse(text).nodes.pick.branches.map((b: { to: string }) => b.to)).toEqual(["a", "b", "c"]);
    text = connect(text, "a", "c");
    expect(parse(text).nodes.a.next).toBe("c");
    expect(() => connect(text, "b", "c")).toThrow(/end node/);
    expect(() => connect(text, "a", "nowhere")).toThrow(/no node/);
  });

  it("connects a parallel node and a decision without branches", () => {
    let text = addNode(BASE, "fan", newNode("parallel"));
    text = addNode(text, "d2", { kind: "decision" });
    text = connect(connect(text, "fan", "a"), "fan", "b");
    text = connect(text, "d2", "b");
    expect(parse(text).nodes.fan.branches).toEqual(["a", "b"]);
    expect(parse(text).nodes.d2.branches).toEqual([{ to: "b" }]);
  });

  it("deletes a node with every reference to it", () => {
    let text = addNode(BASE, "fan", { kind: "parallel", branches: ["a", "b"], join: "done" });
    text = deleteNode(text, "a");
    const tree = parse(text);
    expect(tree.nodes.a).toBeUndefined();
    expect(tree.nodes.pick.branches).toEqual([{ to: "b" }]);
    expect(tree.nodes.fan.branches).toEqual(["b"]);
    text = deleteNode(text, "done");
    expect(parse(text).nodes.fan.join).toBeUndefined();
    expect(() => deleteNode(text, "a")).toThrow(/no node/);
  });

  it("sets and clears fields", () => {
    let text = setNodeField(BASE, "a", ["args", "text"], "hello");
    text = setNodeField(text, "a", ["retry", "max_attempts"], 5);
    text = setNodeField(text, "a", ["next"], undefined);
    text = setTreeField(text, "start", "a");
    const tree = parse(text);
    expect(tree.nodes.a.args.text).toBe("hello");
    expect(tree.nodes.a.retry).toEqual({ max_attempts: 5 });
    expect(tree.nodes.a.next).toBeUndefined();
    expect(tree.start).toBe("a");
  });

  it("refuses to edit broken YAML and reports parse problems", () => {
    expect(() => setNodeField("nodes: [", "a", ["x"], 1)).toThrow(/fix the YAML/);
    expect(parseTree("nodes: [").error).not.toBeNull();
    expect(parseTree("name: t\nnodes: {a: {kind: spaceship}}").error).toMatch(/kind/);
  });

  it("gives new nodes free ids and every kind a starting shape", () => {
    const tree = parseTree(BASE).tree;
    expect(freeId(tree, "a")).toBe("a_2");
    expect(freeId(tree, "summarize@^1")).toBe("summarize__1");
    expect(freeId(tree, "9lives")).toBe("_9lives");
    for (const kind of NODE_KINDS) expect(newNode(kind).kind).toBe(kind);
  });
});

describe("a new tree", () => {
  it("starts with one end node and a name the compiler accepts", async () => {
    const { newTreeText } = await import("../src/tree/yamlText");
    const { TREE_NAME_PATTERN } = await import("../src/tree/model");
    const tree = parse(newTreeText("my-tree"));
    expect(tree).toEqual({ name: "my-tree", description: "A new tree", start: "done", nodes: { done: { kind: "end", output: {} } } });
    expect(TREE_NAME_PATTERN.test("my-tree")).toBe(true);
    expect(TREE_NAME_PATTERN.test("My Tree")).toBe(false);
  });
});
