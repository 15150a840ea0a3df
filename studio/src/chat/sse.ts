// A small server-sent events reader: the wire format (text/event-stream) parsed from
// chunks, and a fetch-based follower that can send the Authorization header (which
// EventSource cannot) and resumes after the last id it saw.

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/** Parses a stream fed in arbitrary chunks; yields each complete message once. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | null = null;
  lastId: string | null = null;

  /** The messages completed by `chunk` (comments and `retry:` lines are skipped). */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let newline = this.buffer.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      const message = this.line(line);
      if (message) out.push(message);
      newline = this.buffer.search(/\r\n|\r|\n/);
    }
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === "") {
      if (this.data.length === 0) return null;
      const message = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
      if (this.id !== null) this.lastId = this.id;
      this.data = [];
      this.event = "";
      return message;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id") this.id = value;
    return null;
  }
}

export interface FollowOptions {
  url: string;
  token: string | null;
  signal: AbortSignal;
  onMessage: (message: SseMessage) => void;
  /** True once the stream may stop (e.g. the run ended); otherwise it reconnects. */
  done: () => boolean;
  /** Pause before reconnecting after the server closed the stream (ms). */
  retryMs?: number;
  fetchImpl?: typeof fetch;
}

/** Follows `url` until `done()` or the signal aborts, reconnecting with Last-Event-ID. */
export async function followSse(options: FollowOptions): Promise<void> {
  const { url, token, signal, onMessage, done, retryMs = 1000, fetchImpl = fetch } = options;
  const parser = new SseParser();
  while (!signal.aborted && !done()) {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (parser.lastId !== null) headers["Last-Event-ID"] = parser.lastId;
    try {
      const response = await fetchImpl(url, { headers, signal });
      if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        for (const message of parser.push(value)) onMessage(message);
        if (done()) {
          await reader.cancel();
          return;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof Error && error.message.startsWith("event stream: HTTP 4")) throw error;
    }
    if (!done()) await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}
