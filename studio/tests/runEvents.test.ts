import { describe, expect, it } from "vitest";
import { applyEvent, EMPTY_RUN, foldEvents, parseRunEvent, type RunEvent } from "../src/runs/runEvents";

let next = 0;
function ev(type: string, node: string | null, data: Record<string, unknown> = {}): RunEvent {
  next += 1;
  return { id: next, type, at: "2026-12-02T00:00:00Z", node, data };
}

describe("run event reducer", () => {
  it("marks nodes running then done and records the path", () => {
    next = 0;
    const started = foldEvents([ev("step.started", "fetch")]);
    expect(started.states.get("fetch")).toBe("running");
    const live = foldEvents([ev("step.completed", "fetch"), ev("step.started", "answer")], started);
    expect(Object.fromEntries(live.states)).toEqual({ fetch: "done", answer: "running" });
    expect(live.path).toEqual(["fetch", "answer"]);
    expect(live.lastId).toBe(3);
    expect(live.status).toBe("running");
  });

  it("waits for input, then runs on once answered", () => {
    next = 0;
    const waiting = foldEvents([ev("step.started", "ask"), ev("input.requested", "ask", { prompt: "OK?", choices: ["yes", "no"] })]);
    expect(waiting.states.get("ask")).toBe("waiting");
    expect(waiting.status).toBe("waiting_input");
    expect(waiting.waiting).toEqual([{ node: "ask", prompt: "OK?", choices: ["yes", "no"] }]);
    const answered = foldEvents([ev("input.answered", "ask", { value: { value: "yes" } }), ev("step.completed", "ask")], waiting);
    expect(answered.states.get("ask")).toBe("done");
    expect(answered.waiting).toEqual([]);
    expect(answered.status).toBe("running");
  });

  it("keeps input without choices and a failed step that was handled", () => {
    next = 0;
    const live = foldEvents([
      ev("step.started", "call"),
      ev("step.failed", "call", { error: "boom", handled_by: "fallback" }),
      ev("decision.taken", "call", { to: "fallback" }),
      ev("step.started", "fallback"),
      ev("input.requested", "fallback", {}),
    ]);
    expect(live.states.get("call")).toBe("failed");
    expect(live.waiting).toEqual([{ node: "fallback", prompt: "", choices: null }]);
  });

  it("ends: output kept, unfinished nodes failed or skipped by how the run ended", () => {
    next = 0;
    const running = foldEvents([ev("step.started", "a"), ev("output", null, { output: { value: { n: 1 }, size: 7 } })]);
    expect(running.output).toEqual({ n: 1 });
    const failed = applyEvent(running, ev("run.ended", null, { status: "failed", error: "x" }));
    expect(failed.ended).toBe(true);
    expect(failed.status).toBe("failed");
    expect(failed.states.get("a")).toBe("failed");
    const cancelled = applyEvent(running, { ...ev("run.ended", null, { status: "cancelled" }) });
    expect(cancelled.states.get("a")).toBe("skipped");
    const stopped = foldEvents([ev("step.failed", "a", { error: "cancelled" }), ev("run.ended", null, { status: "cancelled" })], running);
    expect(stopped.states.get("a")).toBe("skipped");
    const completed = applyEvent(running, ev("run.ended", null, { status: "completed" }));
    expect(completed.states.get("a")).toBe("done");
    expect(applyEvent(running, ev("run.ended", null)).status).toBe("completed");
  });

  it("ignores repeated and unknown events and events without a node", () => {
    next = 0;
    const once = foldEvents([ev("step.started", "a")]);
    expect(applyEvent(once, { ...once, id: 1, type: "step.completed", at: "", node: "a" } as RunEvent)).toBe(once);
    const unknown = applyEvent(once, ev("something.new", "a"));
    expect(unknown.states.get("a")).toBe("running");
    expect(unknown.lastId).toBe(2);
    const nodeless = foldEvents([ev("step.started", null), ev("step.completed", null), ev("step.failed", null), ev("input.requested", null), ev("input.answered", null)]);
    expect(nodeless.states.size).toBe(0);
    expect(nodeless.path).toEqual([]);
    expect(EMPTY_RUN.lastId).toBe(0);
  });

  it("parses SSE data into events, refusing anything else", () => {
    expect(parseRunEvent('{"id":3,"type":"output","at":"t","data":{}}')?.id).toBe(3);
    expect(parseRunEvent("not json")).toBeNull();
    expect(parseRunEvent("42")).toBeNull();
    expect(parseRunEvent('{"type":"output"}')).toBeNull();
  });
});
