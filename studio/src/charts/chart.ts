// Charts from the `visualize` tool: recognise its output anywhere in a run's or a turn's
// values, and turn its image into a data URL an <img> can show.
//
// The image is drawn by the tool (SVG text or base64 PNG). An SVG shown through <img>
// runs no script and loads nothing, so a tool cannot inject markup into the Studio.

export interface ChartOutput {
  kind: string;
  title: string;
  media_type: "image/svg+xml" | "image/png";
  image: string;
  points: number;
  spec: Record<string, unknown>;
}

const MEDIA_TYPES = new Set(["image/svg+xml", "image/png"]);

/** `value` as a `visualize` output, or null when it is anything else. */
export function asChart(value: unknown): ChartOutput | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (
    typeof v.kind === "string" &&
    typeof v.image === "string" &&
    typeof v.media_type === "string" &&
    MEDIA_TYPES.has(v.media_type) &&
    typeof v.spec === "object" &&
    v.spec !== null
  ) {
    return {
      kind: v.kind,
      title: typeof v.title === "string" ? v.title : "",
      media_type: v.media_type as ChartOutput["media_type"],
      image: v.image,
      points: typeof v.points === "number" ? v.points : 0,
      spec: v.spec as Record<string, unknown>,
    };
  }
  return null;
}

/** Every chart inside `value` (nested objects and lists), in document order, at most `limit`. */
export function chartsIn(value: unknown, limit = 20): ChartOutput[] {
  const found: ChartOutput[] = [];
  const visit = (item: unknown, depth: number): void => {
    if (found.length >= limit || depth > 20 || typeof item !== "object" || item === null) return;
    const chart = asChart(item);
    if (chart) {
      found.push(chart);
      return;
    }
    for (const child of Array.isArray(item) ? item : Object.values(item)) visit(child, depth + 1);
  };
  visit(value, 0);
  return found;
}

/** The chart's image as a `data:` URL (SVG text is percent-encoded, PNG is already base64). */
export function chartImageUrl(chart: ChartOutput): string {
  return chart.media_type === "image/png"
    ? `data:image/png;base64,${chart.image}`
    : `data:image/svg+xml;charset=utf-8,${encodeURIComponent(chart.image)}`;
}

/** A text alternative for the image: what is plotted, over how many points. */
export function chartDescription(chart: ChartOutput): string {
  const title = chart.title || `${chart.kind} chart`;
  return `${title} (${chart.kind}, ${chart.points} point${chart.points === 1 ? "" : "s"})`;
}
