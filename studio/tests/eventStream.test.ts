import { describe, expect, it } from "vitest";
import { followRunEvents } from "../src/runs/eventStream";
import type { RunEvent } from "../src/runs/runEvents";

function sse(...events: { id: number; type: string }[]): string {
  return (
    "retry: 10\n: run events\n\n" +
    events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify({ ...e, at: "t", node: "n", data: {} })}\nid: ${e.id}\n\n`).join("")
  );
}

/** A Response whose body arrives in small chunks, as a network would deliver it. */
function streamed(text: string, status = 200): Response {
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
      controller.close();
    },
  });
  return new Response(body, { status, headers: { "Content-Type": "text/event-stream" } });
}

interface Call {
  headers: Record<string, string>;
}

function fakeFetch(responses: (() => Response)[]): { fetchImpl: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    calls.push({ headers: init.headers as Record<string, string> });
    const next = responses.shift();
    if (!next) throw new TypeError("network down");
    return next();
  }) as unknown as typeof fetch;
  return { fetchImpl, calls };
}

const noSleep = async () => undefined;

describe("following a run's event stream", () => {
  it("reads events split across chunks and stops at the end", async () => {
    const { fetchImpl, calls } = fakeFetch([() => streamed(sse({ id: 1, type: "step.started" }, { id: 2, type: "run.ended" }))]);
    const seen: RunEvent[] = [];
    let opened = 0;
    const end = await followRunEvents({
      url: "/events",
      token: () => "tok",
      onEvent: (e) => seen.push(e),
      onOpen: () => (opened += 1),
      signal: new AbortController().signal,
      fetchImpl,
      sleep: noSleep,
    });
    expect(end).toBe("ended");
    expect(seen.map((e) => e.id)).toEqual([1, 2]);
    expect(opened).toBe(1);
    expect(calls[0]?.headers.Authorization).toBe("Bearer tok");
    expect(calls[0]?.headers["Last-Event-ID"]).toBeUndefined();
  });

  it("reconnects after a dropped connection from the last id, without duplicates", async () => {
    const { fetchImpl, calls } = fakeFetch([
      () => streamed(sse({ id: 1, type: "step.started" }, { id: 2, type: "step.completed" })),
      () => {
        throw new TypeError("connection reset");
      },
      () => streamed(sse({ id: 2, type: "step.completed" }, { id: 3, type: "run.ended" })),
    ]);
    const seen: number[] = [];
    const end = await followRunEvents({
      url: "/events",
      token: () => null,
      onEvent: (e) => seen.push(e.id),
      signal: new AbortController().signal,
      fetchImpl,
      sleep: noSleep,
    });
    expect(end).toBe("ended");
    expect(seen).toEqual([1, 2, 3]);
    expect(calls.map((c) => c.headers["Last-Event-ID"])).toEqual([undefined, "2", "2"]);
    expect(calls[0]?.headers.Authorization).toBeUndefined();
  });

  it("resumes from a given id and gives up after repeated failures", async () => {
    const { fetchImpl, calls } = fakeFetch([() => streamed("", 503), () => streamed("", 429)]);
    const end = await followRunEvents({
      url: "/events",
      token: () => null,
      after: 7,
      onEvent: () => undefined,
      signal: new AbortController().signal,
      maxFailures: 3,
      fetchImpl,
      sleep: noSleep,
    });
    expect(end).toBe("failed");
    expect(calls).toHaveLength(3);
    expect(calls[0]?.headers["Last-Event-ID"]).toBe("7");
  });

  it("stops at a refusal and when aborted", async () => {
    const refused = fakeFetch([() => streamed("", 403)]);
    const base = { url: "/events", token: () => null, onEvent: () => undefined, sleep: noSleep };
    expect(await followRunEvents({ ...base, signal: new AbortController().signal, fetchImpl: refused.fetchImpl })).toBe("refused");
    const stop = new AbortController();
    stop.abort();
    expect(await followRunEvents({ ...base, signal: stop.signal, fetchImpl: refused.fetchImpl })).toBe("aborted");
    const midway = new AbortController();
    const failing = (async () => {
      midway.abort();
      throw new DOMException("aborted", "AbortError");
    }) as unknown as typeof fetch;
    expect(await followRunEvents({ ...base, signal: midway.signal, fetchImpl: failing })).toBe("aborted");
  });

  it("waits between reconnects with the default timer, cut short by abort", async () => {
    const stop = new AbortController();
    const { fetchImpl } = fakeFetch([]);
    setTimeout(() => stop.abort(), 20);
    const started = Date.now();
    const end = await followRunEvents({ url: "/e", token: () => null, onEvent: () => undefined, signal: stop.signal, fetchImpl, retryMs: 5000 });
    expect(end).toBe("aborted");
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
