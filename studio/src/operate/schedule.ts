// The timing part of a new schedule's body, from the form's two fields.

export type TimingKind = "cron" | "interval";

/** `{cron}` or `{interval_seconds}`; a non-number interval is sent as is for the API to name. */
export function scheduleTiming(kind: TimingKind, when: string): { cron: string } | { interval_seconds: number | string } {
  const text = when.trim();
  if (kind === "cron") return { cron: text };
  const seconds = Number(text);
  return { interval_seconds: text !== "" && Number.isInteger(seconds) ? seconds : text };
}
