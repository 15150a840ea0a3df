import { describe, expect, it } from "vitest";
import { formatDuration, parseOverrides, stepsOf } from "../src/runs/steps";

describe("step panel helpers", () => {
  it("picks one node's records, oldest first", () => {
    const steps = [
      { id: 9, node: "loop" },
      { id: 2, node: "start" },
      { id: 4, node: "loop" },
    ];
    expect(stepsOf(steps, "loop").map((s) => s.id)).toEqual([4, 9]);
    expect(stepsOf(steps, "nowhere")).toEqual([]);
  });

  it("formats durations for people", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(undefined)).toBe("—");
    expect(formatDuration(Number.NaN)).toBe("—");
    expect(formatDuration(12.4)).toBe("12 ms");
    expect(formatDuration(1530)).toBe("1.5 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
  });

  it("reads input overrides as a JSON object or says why not", () => {
    expect(parseOverrides("  ")).toEqual({ inputs: {} });
    expect(parseOverrides('{"topic": "x"}')).toEqual({ inputs: { topic: "x" } });
    expect(parseOverrides("[1]")).toHaveProperty("error");
    expect(parseOverrides("null")).toHaveProperty("error");
    expect((parseOverrides("{oops") as { error: string }).error).toMatch(/^Not JSON/);
  });
});
