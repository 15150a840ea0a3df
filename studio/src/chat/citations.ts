// What a turn cites and draws, from its step records: the cited objects (a cited
// summary's [n] markers joined with the searched objects' properties) and its charts.
//
// Step records keep a 2048-byte preview of each result; the results these need are
// read whole (`GET .../steps/{id}/result`) and passed in as `whole`.
import { chartsIn, type ChartOutput } from "../charts/chart";

export interface StepResultPreview {
  value?: unknown;
  truncated?: boolean;
}

export interface StepLike {
  id: number;
  node: string;
  activity?: string | null;
  outcome: string;
  result?: StepResultPreview | null;
}

export interface CitedObject {
  /** The [n] marker in the answer; null for an object found but not cited by number. */
  number: number | null;
  ref: string;
  title: string;
  properties: Record<string, unknown>;
  /** The node whose result held the object. */
  node: string;
}

/** Tools whose results the chat reads: searches, cited summaries and charts. */
const READ_WHOLE = new Set(["query", "hybrid_search", "cited_summarize", "visualize"]);

function toolName(activity: string | null | undefined): string {
  return (activity ?? "").split("@")[0] ?? "";
}

/** The completed steps whose result the chat needs and whose preview is cut short. */
export function stepsToReadWhole(steps: StepLike[]): StepLike[] {
  return steps.filter((s) => s.outcome === "completed" && s.result?.truncated === true && READ_WHOLE.has(toolName(s.activity)));
}

/** Each step's result: the whole one when read, else the preview when it is complete. */
export function resultsOf(steps: StepLike[], whole: ReadonlyMap<number, unknown>): { step: StepLike; value: unknown }[] {
  const out: { step: StepLike; value: unknown }[] = [];
  for (const step of steps) {
    if (whole.has(step.id)) out.push({ step, value: whole.get(step.id) });
    else if (step.result && !step.result.truncated && step.result.value !== undefined) out.push({ step, value: step.result.value });
  }
  return out;
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function titleOf(properties: Record<string, unknown>, fallback: string): string {
  for (const key of ["title", "name", "ticket_id", "id"]) {
    const value = properties[key];
    if (typeof value === "string" && value) return value;
  }
  return fallback;
}

/** The cited objects of a turn, numbered as in its answer; else the objects it found. */
export function citedObjects(results: { step: StepLike; value: unknown }[]): CitedObject[] {
  const found = new Map<string, { properties: Record<string, unknown>; node: string }>();
  const citations: { number: number; ref: string; title: string | null; node: string }[] = [];
  for (const { step, value } of results) {
    const result = record(value);
    if (!result) continue;
    for (const item of Array.isArray(result.objects) ? result.objects : []) {
      const object = record(item);
      const ref = object && (typeof object.ref === "string" ? object.ref : typeof object.id === "string" ? object.id : null);
      if (object && ref && !found.has(ref)) found.set(ref, { properties: record(object.properties) ?? {}, node: step.node });
    }
    for (const item of Array.isArray(result.citations) ? result.citations : []) {
      const citation = record(item);
      if (citation && typeof citation.number === "number" && typeof citation.ref === "string") {
        const title = typeof citation.title === "string" ? citation.title : null;
        citations.push({ number: citation.number, ref: citation.ref, title, node: step.node });
      }
    }
  }
  if (citations.length > 0) {
    return citations
      .sort((a, b) => a.number - b.number)
      .map((c) => {
        const object = found.get(c.ref);
        const properties = object?.properties ?? {};
        return { number: c.number, ref: c.ref, title: c.title ?? titleOf(properties, c.ref), properties, node: object?.node ?? c.node };
      });
  }
  return [...found].map(([ref, o]) => ({ number: null, ref, title: titleOf(o.properties, ref), properties: o.properties, node: o.node }));
}

/** Every chart the turn's steps drew. */
export function chartsOf(results: { step: StepLike; value: unknown }[]): ChartOutput[] {
  return results.flatMap(({ value }) => chartsIn(value));
}

export type AnswerPart = { text: string } | { cite: number };

/** The answer split at its [n] markers, so each marker can open its object. */
export function answerParts(answer: string): AnswerPart[] {
  const parts: AnswerPart[] = [];
  let last = 0;
  for (const match of answer.matchAll(/\[(\d{1,3})\]/g)) {
    const at = match.index ?? 0;
    if (at > last) parts.push({ text: answer.slice(last, at) });
    parts.push({ cite: Number(match[1]) });
    last = at + match[0].length;
  }
  if (last < answer.length) parts.push({ text: answer.slice(last) });
  return parts;
}
