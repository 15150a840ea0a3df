import { describe, expect, it } from "vitest";
import { checklistOf, problemsByNode } from "../src/tree/checklist";

describe("checklist mapping", () => {
  const nodes = ["search", "pick", "done"];

  it("pins each problem to its node and field", () => {
    const items = checklistOf(
      [
        { field: "body.source.nodes.search.args.limit", message: "must be <= 50" },
        { field: "body.source.nodes.pick.branches.0.to", message: "unknown node 'x'" },
        { field: "body.source.nodes.done", message: "unreachable" },
        { field: "body.source.start", message: "unknown node" },
        { field: "body.source", message: "not valid YAML" },
        { field: "body.source.nodes.ghost.next", message: "no such node" },
        { field: "body.spec.nodes.search.tool", message: "unknown tool" },
      ],
      nodes,
    );
    expect(items).toEqual([
      { nodeId: "search", field: "args.limit", message: "must be <= 50" },
      { nodeId: "pick", field: "branches.0.to", message: "unknown node 'x'" },
      { nodeId: "done", field: "", message: "unreachable" },
      { nodeId: null, field: "start", message: "unknown node" },
      { nodeId: null, field: "", message: "not valid YAML" },
      { nodeId: null, field: "nodes.ghost.next", message: "no such node" },
      { nodeId: "search", field: "tool", message: "unknown tool" },
    ]);
    const byNode = problemsByNode(items);
    expect(byNode.get("search")?.map((i) => i.field)).toEqual(["args.limit", "tool"]);
    expect(byNode.has("ghost")).toBe(false);
  });
});

describe("list indexes in problem paths", () => {
  it("become dotted, as the inspector names branch fields", async () => {
    const { checklistOf: of } = await import("../src/tree/checklist");
    expect(of([{ field: "body.source.nodes.pick.branches[0]", message: "m" }], ["pick"])).toEqual([
      { nodeId: "pick", field: "branches.0", message: "m" },
    ]);
  });
});
