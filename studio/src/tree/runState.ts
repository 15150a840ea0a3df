// A run's node states from what the API reports (status, path, current node, waiting inputs).
//
// Today the run view polls `GET /runs/{key}`; the step event stream will feed the same
// `RunSnapshot`, so the canvas code does not change when it lands.

export type NodeState = "done" | "running" | "waiting" | "failed";

export interface RunSnapshot {
  status: string;
  path?: readonly string[];
  current_node?: string | null;
  waiting_for?: readonly { node: string }[];
}

export const CLOSED_STATUSES = new Set(["completed", "failed", "cancelled", "terminated", "timed_out"]);

export function isClosed(status: string): boolean {
  return CLOSED_STATUSES.has(status);
}

export function nodeStatesOf(run: RunSnapshot): Map<string, NodeState> {
  const states = new Map<string, NodeState>();
  const path = run.path ?? [];
  for (const node of path) states.set(node, "done");
  const closed = isClosed(run.status);
  const current = run.current_node ?? null;
  if (current !== null && !closed) states.set(current, "running");
  for (const pending of run.waiting_for ?? []) states.set(pending.node, "waiting");
  if (run.status === "failed") {
    const last = current ?? path[path.length - 1];
    if (last !== undefined) states.set(last, "failed");
  }
  return states;
}
