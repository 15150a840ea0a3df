// Fold a run's event stream (`GET .../runs/{key}/events`) into what the run view draws:
// each node's state, the path taken, the live status, what input is awaited, the output.
//
// Event shapes are those of `workflows/trail.py` (docs/api.md, "Run steps and events").
import type { NodeState } from "../tree/runState";

export type RunEventType =
  | "step.started"
  | "step.completed"
  | "step.failed"
  | "decision.taken"
  | "input.requested"
  | "input.answered"
  | "output"
  | "run.ended";

export interface RunEvent {
  id: number;
  type: RunEventType | string;
  /** When the workflow recorded it (`workflow.now()`, RFC 3339). */
  at?: string;
  node?: string | null;
  kind?: string | null;
  step?: number | null;
  data?: Record<string, unknown>;
}

export interface AwaitedInput {
  node: string;
  prompt: string;
  choices: string[] | null;
}

export interface LiveRun {
  /** Id of the newest event folded in (0: none); the stream resumes after it. */
  lastId: number;
  states: ReadonlyMap<string, NodeState>;
  /** Nodes in the order they started (a loop repeats a node). */
  path: readonly string[];
  /** `running`, `waiting_input`, or the status `run.ended` gave. */
  status: string;
  waiting: readonly AwaitedInput[];
  ended: boolean;
  output?: unknown;
}

export const EMPTY_RUN: LiveRun = { lastId: 0, states: new Map(), path: [], status: "running", waiting: [], ended: false };

/** Parse one SSE `data:` payload; null when it is not a run event. */
export function parseRunEvent(data: string): RunEvent | null {
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value !== "object" || value === null) return null;
    const event = value as RunEvent;
    return typeof event.id === "number" && typeof event.type === "string" ? event : null;
  } catch {
    return null;
  }
}

function valueOf(wrapped: unknown): unknown {
  return typeof wrapped === "object" && wrapped !== null && "value" in wrapped ? (wrapped as { value: unknown }).value : wrapped;
}

/** What a node that never finished shows once the run has ended with `status`. */
function interrupted(status: string): NodeState {
  return status === "cancelled" ? "skipped" : "failed";
}

/** `live` with `event` folded in; events at or before `lastId` are ignored (no duplicates). */
export function applyEvent(live: LiveRun, event: RunEvent): LiveRun {
  if (event.id <= live.lastId) return live;
  const states = new Map(live.states);
  let { path, status, waiting, ended, output } = live;
  const node = event.node ?? null;
  const data = event.data ?? {};
  switch (event.type) {
    case "step.started":
      if (node) {
        states.set(node, "running");
        path = [...path, node];
      }
      break;
    case "step.completed":
      if (node) states.set(node, "done");
      break;
    case "step.failed":
      // A step stopped by the run's cancellation did not fail: it is shown as not done.
      if (node) states.set(node, data.error === "cancelled" ? "skipped" : "failed");
      break;
    case "input.requested":
      if (node) {
        states.set(node, "waiting");
        const choices = Array.isArray(data.choices) ? data.choices.map(String) : null;
        waiting = [...waiting.filter((w) => w.node !== node), { node, prompt: String(data.prompt ?? ""), choices }];
        status = "waiting_input";
      }
      break;
    case "input.answered":
      if (node) {
        states.set(node, "running");
        waiting = waiting.filter((w) => w.node !== node);
      }
      if (waiting.length === 0) status = "running";
      break;
    case "output":
      output = valueOf(data.output);
      break;
    case "run.ended": {
      status = typeof data.status === "string" ? data.status : "completed";
      ended = true;
      waiting = [];
      for (const [id, state] of states) {
        if (state === "running" || state === "waiting") states.set(id, status === "completed" ? "done" : interrupted(status));
      }
      break;
    }
    default:
      break;
  }
  return { lastId: event.id, states, path, status, waiting, ended, output };
}

/** Every event folded in, in order. */
export function foldEvents(events: readonly RunEvent[], from: LiveRun = EMPTY_RUN): LiveRun {
  return events.reduce(applyEvent, from);
}
