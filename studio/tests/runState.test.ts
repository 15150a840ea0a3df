import { describe, expect, it } from "vitest";
import { isClosed, nodeStatesOf } from "../src/tree/runState";

describe("run node states", () => {
  it("marks the path done and the current node running", () => {
    const states = nodeStatesOf({ status: "running", path: ["a", "b"], current_node: "c" });
    expect(Object.fromEntries(states)).toEqual({ a: "done", b: "done", c: "running" });
  });

  it("marks waiting inputs", () => {
    const states = nodeStatesOf({ status: "waiting_input", path: ["a"], current_node: "ask", waiting_for: [{ node: "ask" }] });
    expect(states.get("ask")).toBe("waiting");
  });

  it("marks the failing node failed and nothing running once closed", () => {
    expect(Object.fromEntries(nodeStatesOf({ status: "failed", path: ["a", "b"] }))).toEqual({ a: "done", b: "failed" });
    expect(nodeStatesOf({ status: "failed", path: ["a"], current_node: "b" }).get("b")).toBe("failed");
    expect(nodeStatesOf({ status: "completed", path: ["a"], current_node: "a" }).get("a")).toBe("done");
    expect(isClosed("running")).toBe(false);
  });
});
