import { describe, expect, it } from "vitest";
import { isClosed, isTakenEdge, nodeStatesOf, withSkipped } from "../src/tree/runState";

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

describe("skipped nodes and the path taken", () => {
  it("marks unreached nodes skipped only once the run is closed", () => {
    const states = new Map([["a", "done" as const]]);
    expect(Object.fromEntries(withSkipped(states, ["a", "b"], true))).toEqual({ a: "done", b: "skipped" });
    expect(Object.fromEntries(withSkipped(states, ["a", "b"], false))).toEqual({ a: "done" });
  });

  it("draws an edge as taken from a finished node to a reached one", () => {
    const states = new Map([
      ["a", "done" as const],
      ["b", "running" as const],
      ["c", "skipped" as const],
      ["f", "failed" as const],
    ]);
    expect(isTakenEdge(states, "a", "b")).toBe(true);
    expect(isTakenEdge(states, "f", "b")).toBe(true);
    expect(isTakenEdge(states, "a", "c")).toBe(false);
    expect(isTakenEdge(states, "b", "a")).toBe(false);
    expect(isTakenEdge(states, "a", "zz")).toBe(false);
    expect(isTakenEdge(undefined, "a", "b")).toBe(false);
  });
});
