import { describe, expect, it } from "vitest";
import { asChart, chartDescription, chartImageUrl, chartsIn } from "../src/charts/chart";

const svg = {
  kind: "bar",
  title: "Open tickets",
  spec: { mark: "bar" },
  media_type: "image/svg+xml",
  image: '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>',
  points: 3,
};

describe("charts from visualize", () => {
  it("recognises a visualize output and nothing else", () => {
    expect(asChart(svg)?.title).toBe("Open tickets");
    expect(asChart({ ...svg, media_type: "text/html" })).toBeNull();
    expect(asChart({ ...svg, spec: null })).toBeNull();
    expect(asChart([svg])).toBeNull();
    expect(asChart("chart")).toBeNull();
    expect(asChart({ ...svg, title: 5, points: "x" })).toMatchObject({ title: "", points: 0 });
  });

  it("finds charts nested in a run's output, in order, up to a limit", () => {
    const output = { answer: "see", steps: [{ chart: svg }, { other: 1 }, { ...svg, title: "Second" }] };
    expect(chartsIn(output).map((c) => c.title)).toEqual(["Open tickets", "Second"]);
    expect(chartsIn(output, 1)).toHaveLength(1);
    expect(chartsIn(null)).toEqual([]);
  });

  it("makes data URLs an img can show without running markup", () => {
    const url = chartImageUrl(asChart(svg)!);
    expect(url.startsWith("data:image/svg+xml;charset=utf-8,%3Csvg")).toBe(true);
    expect(url).not.toContain("<");
    expect(chartImageUrl(asChart({ ...svg, media_type: "image/png", image: "iVBOR" })!)).toBe(
      "data:image/png;base64,iVBOR",
    );
  });

  it("describes the chart for screen readers", () => {
    expect(chartDescription(asChart(svg)!)).toBe("Open tickets (bar, 3 points)");
    expect(chartDescription(asChart({ ...svg, title: "", points: 1 })!)).toBe("bar chart (bar, 1 point)");
  });
});
