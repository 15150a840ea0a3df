// Small helpers over step records for the side panel.

export interface StepLike {
  id: number;
  node: string;
}

/** The records of `node`, oldest first (a loop visits a node more than once). */
export function stepsOf<T extends StepLike>(steps: readonly T[], node: string): T[] {
  return steps.filter((step) => step.node === node).sort((a, b) => a.id - b.id);
}

/** A step's duration for people: "—" while unknown, ms under a second, else seconds. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Input overrides typed as a JSON object; an error message when they are not one. */
export function parseOverrides(text: string): { inputs: Record<string, unknown> } | { error: string } {
  if (text.trim() === "") return { inputs: {} };
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: "Enter a JSON object, e.g. {\"topic\": \"x\"}." };
    return { inputs: value as Record<string, unknown> };
  } catch (error) {
    return { error: `Not JSON: ${(error as Error).message}` };
  }
}
