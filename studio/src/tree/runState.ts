// A run's node states on the canvas. The run view folds them from the event stream
// (`runs/runEvents.ts`); `nodeStatesOf` derives them from `GET /runs/{key}` for the
// polling fallback. Once a run is closed, nodes it never reached are `skipped`.

export type NodeState = "done" | "running" | "waiting" | "failed" | "skipped";

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

/** `states` with every node of `nodeIds` the run never reached marked skipped, once closed. */
export function withSkipped(states: ReadonlyMap<string, NodeState>, nodeIds: readonly string[], closed: boolean): Map<string, NodeState> {
  const all = new Map(states);
  if (closed) for (const id of nodeIds) if (!all.has(id)) all.set(id, "skipped");
  return all;
}

/** Whether the run went along the edge `source → target` (drawn as the path taken). */
export function isTakenEdge(states: ReadonlyMap<string, NodeState> | undefined, source: string, target: string): boolean {
  const from = states?.get(source);
  const to = states?.get(target);
  return (from === "done" || from === "failed") && to !== undefined && to !== "skipped";
}
