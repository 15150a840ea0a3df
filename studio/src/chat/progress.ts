// A turn's live progress folded from its run events: the steps taken, the path, what
// each decision chose and why, the output and how the run ended.

import type { RunEvent } from "../runs/runEvents";

export type { RunEvent };

export interface StepLine {
  id: number;
  node: string;
  kind: string | null;
  activity: string | null;
  outcome: "running" | "completed" | "failed";
  /** For decisions: the branch taken and the reasoning given. */
  choice: string | null;
  reasoning: string | null;
  error: string | null;
  /** For input nodes: the prompt the turn waits on an answer to. */
  waitingFor: string | null;
}

export interface TurnProgress {
  lastId: number;
  steps: StepLine[];
  output: Record<string, unknown> | null;
  ended: string | null;
}

export const EMPTY_PROGRESS: TurnProgress = { lastId: 0, steps: [], output: null, ended: null };

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function updateStep(progress: TurnProgress, id: number | null | undefined, change: Partial<StepLine>): StepLine[] {
  return progress.steps.map((s) => (s.id === id ? { ...s, ...change } : s));
}

/** `progress` after `event` (events at or below the last id seen are ignored). */
export function reduceEvent(progress: TurnProgress, event: RunEvent): TurnProgress {
  if (event.id <= progress.lastId) return progress;
  const data = event.data ?? {};
  const next = { ...progress, lastId: event.id };
  switch (event.type) {
    case "step.started":
      return {
        ...next,
        steps: [
          ...progress.steps,
          {
            id: event.id,
            node: event.node ?? "?",
            kind: event.kind ?? null,
            activity: text(data.activity),
            outcome: "running",
            choice: null,
            reasoning: null,
            error: null,
            waitingFor: null,
          },
        ],
      };
    case "decision.taken":
      return {
        ...next,
        steps: updateStep(progress, event.step, {
          choice: text(data.end === true ? "end" : data.branch),
          reasoning: text(data.reasoning) || null,
        }),
      };
    case "input.requested":
      return { ...next, steps: updateStep(progress, event.step, { waitingFor: text(data.prompt) ?? "" }) };
    case "input.answered":
      return { ...next, steps: updateStep(progress, event.step, { waitingFor: null }) };
    case "step.completed":
      return { ...next, steps: updateStep(progress, event.step, { outcome: "completed", waitingFor: null }) };
    case "step.failed":
      return { ...next, steps: updateStep(progress, event.step, { outcome: "failed", error: text(data.error) }) };
    case "output": {
      const output = (data.output as { value?: unknown } | undefined)?.value;
      return { ...next, output: typeof output === "object" && output !== null ? (output as Record<string, unknown>) : null };
    }
    case "run.ended":
      return { ...next, ended: text(data.status) ?? "completed" };
    default:
      return next;
  }
}

/** The node ids the turn has visited so far, in order. */
export function pathOf(progress: TurnProgress): string[] {
  return progress.steps.map((s) => s.node);
}
