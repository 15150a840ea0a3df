// Follow a run's server-sent events with `fetch` (the stream needs the Authorization
// header, which a native EventSource cannot send) and `eventsource-parser`.
//
// Reconnects resume after the last id seen (`Last-Event-ID`), as the API documents, so a
// dropped connection or the stream's time limit loses and repeats nothing. The run's end
// (`run.ended`) ends the loop; so do abort, a refusal (4xx other than 429), or too many
// failed connections in a row — then the caller falls back to polling.
import { createParser } from "eventsource-parser";
import { parseRunEvent, type RunEvent } from "./runEvents";

export type StreamEnd = "ended" | "aborted" | "refused" | "failed";

export interface FollowOptions {
  url: string;
  /** The bearer token, read at each (re)connect so a refreshed token is used. */
  token: () => string | null;
  /** Resume after this id (0: from the first event). */
  after?: number;
  onEvent: (event: RunEvent) => void;
  /** Each time a connection opens (the first one, and every reconnect). */
  onOpen?: () => void;
  signal: AbortSignal;
  /** Consecutive failed connections before giving up. */
  maxFailures?: number;
  /** Wait before reconnecting, in ms (the server's `retry:` hint replaces it). */
  retryMs?: number;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** Read one response body to its end; true when it carried `run.ended`. */
async function readStream(body: ReadableStream<Uint8Array>, onMessage: (event: RunEvent) => void, onRetry: (ms: number) => void): Promise<boolean> {
  let ended = false;
  const parser = createParser({
    onEvent: (message) => {
      const event = parseRunEvent(message.data);
      if (event === null) return;
      onMessage(event);
      if (event.type === "run.ended") ended = true;
    },
    onRetry,
  });
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (!ended) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return ended;
}

/** Follow the stream until the run ends, the caller aborts, or it cannot be read. */
export async function followRunEvents(options: FollowOptions): Promise<StreamEnd> {
  const { signal, onEvent } = options;
  const doFetch = options.fetchImpl ?? fetch;
  const sleep = options.sleep ?? pause;
  const maxFailures = options.maxFailures ?? 5;
  let retryMs = options.retryMs ?? 2000;
  let lastId = options.after ?? 0;
  let failures = 0;
  while (!signal.aborted) {
    let opened = false;
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      const token = options.token();
      if (token) headers.Authorization = `Bearer ${token}`;
      if (lastId > 0) headers["Last-Event-ID"] = String(lastId);
      const response = await doFetch(options.url, { headers, signal, cache: "no-store" });
      if (!response.ok || response.body === null) {
        if (response.status >= 400 && response.status < 500 && response.status !== 429) return "refused";
        throw new Error(`HTTP ${response.status}`);
      }
      opened = true;
      options.onOpen?.();
      const ended = await readStream(
        response.body,
        (event) => {
          if (event.id <= lastId) return; // a resumed stream never repeats, but be sure
          lastId = event.id;
          onEvent(event);
        },
        (ms) => {
          retryMs = ms;
        },
      );
      if (ended) return "ended";
    } catch {
      if (signal.aborted) return "aborted";
    }
    // The connection closed (time limit, a restart, the network): reconnect after the last id.
    // Only connections that never opened count towards giving up.
    failures = opened ? 0 : failures + 1;
    if (failures >= maxFailures) return "failed";
    await sleep(retryMs, signal);
  }
  return "aborted";
}
