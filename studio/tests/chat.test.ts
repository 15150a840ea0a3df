import { describe, expect, it } from "vitest";
import { answerParts, chartsOf, citedObjects, resultsOf, stepsToReadWhole, type StepLike } from "../src/chat/citations";
import { answerText, answeringTurn, knownConversations, MAX_KNOWN, rememberConversation, withSent, type MessageLike } from "../src/chat/messages";
import { EMPTY_PROGRESS, pathOf, reduceEvent, type RunEvent } from "../src/chat/progress";

describe("reduceEvent", () => {
  const events: RunEvent[] = [
    { id: 1, type: "step.started", node: "decide", kind: "decision", data: { activity: "llm_decision@2.0.0" } },
    { id: 2, type: "decision.taken", node: "decide", step: 1, data: { branch: "search", reasoning: "look it up" } },
    { id: 3, type: "step.completed", node: "decide", step: 1, data: { next: "search" } },
    { id: 4, type: "step.started", node: "search", kind: "tool", data: { activity: "query@1.0.0" } },
    { id: 5, type: "step.failed", node: "search", step: 4, data: { error: "boom" } },
    { id: 6, type: "step.started", node: "decide", kind: "decision" },
    { id: 7, type: "decision.taken", node: "decide", step: 6, data: { end: true, branch: null } },
    { id: 8, type: "step.started", node: "ask", kind: "input" },
    { id: 11, type: "input.requested", node: "ask", step: 8, data: { prompt: "Sure?" } },
    { id: 12, type: "input.answered", node: "ask", step: 8 },
    { id: 13, type: "input.requested", node: "ask", step: 8 },
    { id: 14, type: "step.completed", node: "ask", step: 8 },
    { id: 15, type: "output", data: { output: { value: { answer: "done" }, size: 3 } } },
    { id: 16, type: "run.ended", data: { status: "completed" } },
  ];
  it("folds steps, decisions, output and the end", () => {
    const progress = events.reduce(reduceEvent, EMPTY_PROGRESS);
    expect(pathOf(progress)).toEqual(["decide", "search", "decide", "ask"]);
    const waiting = events.slice(0, 9).reduce(reduceEvent, EMPTY_PROGRESS);
    expect(waiting.steps[3]).toMatchObject({ node: "ask", waitingFor: "Sure?", outcome: "running" });
    expect(events.slice(0, 11).reduce(reduceEvent, EMPTY_PROGRESS).steps[3]!.waitingFor).toBe("");
    expect(progress.steps[3]).toMatchObject({ waitingFor: null, outcome: "completed" });
    expect(progress.steps[0]).toMatchObject({ outcome: "completed", choice: "search", reasoning: "look it up", activity: "llm_decision@2.0.0" });
    expect(progress.steps[1]).toMatchObject({ outcome: "failed", error: "boom" });
    expect(progress.steps[2]).toMatchObject({ outcome: "running", choice: "end", reasoning: null, activity: null });
    expect(progress.output).toEqual({ answer: "done" });
    expect(progress.ended).toBe("completed");
    expect(progress.lastId).toBe(16);
  });
  it("ignores replayed events and odd payloads", () => {
    const once = events.slice(0, 3).reduce(reduceEvent, EMPTY_PROGRESS);
    expect(reduceEvent(once, events[0]!)).toBe(once);
    const odd = reduceEvent(EMPTY_PROGRESS, { id: 1, type: "step.started" });
    expect(odd.steps[0]!.node).toBe("?");
    expect(reduceEvent(odd, { id: 2, type: "output", data: { output: { value: "text" } } }).output).toBeNull();
    expect(reduceEvent(odd, { id: 3, type: "run.ended" }).ended).toBe("completed");
  });
});

const search: StepLike = { id: 4, node: "search", activity: "query@1.0.0", outcome: "completed", result: { value: "{\"objects\":[", truncated: true } };
const summarize: StepLike = {
  id: 10,
  node: "summarize",
  activity: "cited_summarize@1.0.0",
  outcome: "completed",
  result: { value: { summary: "x [1]", citations: [{ number: 2, ref: "b" }, { number: 1, ref: "a", title: "First" }, { number: 3, ref: "zz" }, { bad: 1 }] }, truncated: false },
};
const respond: StepLike = { id: 12, node: "respond", activity: "text_response@1.0.0", outcome: "completed", result: { value: { text: "x" } } };
const objects = {
  objects: [
    { ref: "a", properties: { ticket_id: "TCK-1", title: "Refund please" } },
    { id: "b", properties: { ticket_id: "TCK-2" } },
    { ref: "a", properties: {} },
    { properties: {} },
    "junk",
  ],
};

describe("citations", () => {
  it("reads whole only the cut results of searches, summaries and charts", () => {
    const chart: StepLike = { id: 20, node: "chart", activity: "visualize@1.0.0", outcome: "completed", result: { truncated: true } };
    const failed: StepLike = { ...search, id: 5, outcome: "failed" };
    expect(stepsToReadWhole([search, summarize, respond, chart, failed, { id: 1, node: "d", outcome: "completed" }]).map((s) => s.id)).toEqual([4, 20]);
  });

  it("numbers cited objects as the answer does, with the searched properties", () => {
    const results = resultsOf([search, summarize, respond, { id: 30, node: "end", outcome: "completed" }], new Map([[4, objects]]));
    expect(results.map((r) => r.step.id)).toEqual([4, 10, 12]);
    expect(citedObjects(results)).toEqual([
      { number: 1, ref: "a", title: "First", properties: { ticket_id: "TCK-1", title: "Refund please" }, node: "search" },
      { number: 2, ref: "b", title: "TCK-2", properties: { ticket_id: "TCK-2" }, node: "search" },
      { number: 3, ref: "zz", title: "zz", properties: {}, node: "summarize" },
    ]);
  });

  it("lists the objects found when nothing is cited by number", () => {
    const found = citedObjects(resultsOf([search], new Map([[4, objects]])));
    expect(found.map((c) => [c.number, c.title])).toEqual([[null, "Refund please"], [null, "TCK-2"]]);
    expect(citedObjects([{ step: respond, value: null }])).toEqual([]);
  });

  it("finds charts in results", () => {
    const chart = { kind: "bar", title: "T", media_type: "image/svg+xml", image: "<svg/>", points: 2, spec: {} };
    expect(chartsOf([{ step: respond, value: { nested: [chart] } }]).map((c) => c.title)).toEqual(["T"]);
  });

  it("splits an answer at its [n] markers", () => {
    expect(answerParts("Refund it. [1][2] Tickets: A.")).toEqual([{ text: "Refund it. " }, { cite: 1 }, { cite: 2 }, { text: " Tickets: A." }]);
    expect(answerParts("")).toEqual([]);
  });
});

describe("messages", () => {
  const m = (turn: number, status: MessageLike["status"]): MessageLike => ({ turn, text: `q${turn}`, status, run: `c.${turn}` });
  it("shows the answer text or the whole output", () => {
    expect(answerText({ answer: "12 tickets" })).toBe("12 tickets");
    expect(answerText({ text: "hi" })).toBe("hi");
    expect(answerText({ n: 1 })).toBe('{"n":1}');
    expect(answerText(null)).toBe("");
  });
  it("finds the turn being answered and places a sent one", () => {
    expect(answeringTurn([m(1, "completed"), m(2, "answering")])?.turn).toBe(2);
    expect(answeringTurn([m(1, "failed")])).toBeNull();
    expect(withSent([m(1, "completed")], m(2, "answering")).map((x) => x.turn)).toEqual([1, 2]);
    const listed = [m(1, "completed"), m(2, "completed")];
    expect(withSent(listed, m(2, "answering"))).toBe(listed);
    expect(withSent(listed, null)).toBe(listed);
  });
  it("remembers conversations per tenant, newest first, bounded", () => {
    const data = new Map<string, string>();
    const storage = { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v) };
    const c = (id: string) => ({ id, tree: "ticket-agent", title: id, started: "" });
    rememberConversation(storage, "t1", c("a"));
    rememberConversation(storage, "t1", c("b"));
    expect(rememberConversation(storage, "t1", c("a")).map((x) => x.id)).toEqual(["a", "b"]);
    expect(knownConversations(storage, "t2")).toEqual([]);
    for (let i = 0; i < MAX_KNOWN + 5; i++) rememberConversation(storage, "t1", c(`x${i}`));
    expect(knownConversations(storage, "t1")).toHaveLength(MAX_KNOWN);
    data.set("treeflow.studio.chats.t3", "not json");
    expect(knownConversations(storage, "t3")).toEqual([]);
    data.set("treeflow.studio.chats.t4", '{"id": 1}');
    expect(knownConversations(storage, "t4")).toEqual([]);
  });
});
