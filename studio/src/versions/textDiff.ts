// A line diff of two YAML texts (jsdiff), numbered like a unified diff; loaded lazily
// with the diff view so the library stays out of the initial bundle.
import { diffLines } from "diff";

export type LineKind = "added" | "removed" | "same";

export interface DiffLine {
  kind: LineKind;
  text: string;
  /** Line number in the older text (null for an added line). */
  oldLine: number | null;
  /** Line number in the newer text (null for a removed line). */
  newLine: number | null;
}

function linesOf(value: string): string[] {
  const lines = value.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Every line of both texts, marked added, removed or the same, with both numberings. */
export function textDiff(older: string, newer: string): DiffLine[] {
  const rows: DiffLine[] = [];
  let oldLine = 1;
  let newLine = 1;
  for (const part of diffLines(older, newer)) {
    const kind: LineKind = part.added ? "added" : part.removed ? "removed" : "same";
    for (const text of linesOf(part.value)) {
      rows.push({
        kind,
        text,
        oldLine: kind === "added" ? null : oldLine++,
        newLine: kind === "removed" ? null : newLine++,
      });
    }
  }
  return rows;
}

/** Only the changed lines and `context` unchanged lines around each; gaps become null. */
export function withContext(rows: DiffLine[], context = 3): (DiffLine | null)[] {
  const keep = rows.map(() => false);
  rows.forEach((row, i) => {
    if (row.kind === "same") return;
    for (let j = Math.max(0, i - context); j <= Math.min(rows.length - 1, i + context); j++) keep[j] = true;
  });
  const shown: (DiffLine | null)[] = [];
  rows.forEach((row, i) => {
    if (keep[i]) shown.push(row);
    else if (shown.length === 0 || shown[shown.length - 1] !== null) shown.push(null);
  });
  return shown;
}
