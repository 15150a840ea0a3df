import { describe, expect, it } from "vitest";
import { MAX_UNDO_STEPS, record, redo, startHistory, undo } from "../src/tree/history";

describe("undo history", () => {
  it("undoes and redoes edits in order, and a new edit drops the redo steps", () => {
    let h = record(record(startHistory("a"), "b"), "c");
    h = undo(h);
    expect(h.present).toBe("b");
    h = undo(h);
    expect(h.present).toBe("a");
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe("b");
    h = record(h, "x");
    expect(h.future).toEqual([]);
    expect(redo(h)).toBe(h);
    expect(undo(h).present).toBe("b");
  });

  it("ignores non-changes and keeps at most the cap", () => {
    const h = startHistory("0");
    expect(record(h, "0")).toBe(h);
    let long = h;
    for (let i = 1; i <= MAX_UNDO_STEPS + 20; i++) long = record(long, String(i));
    expect(long.past).toHaveLength(MAX_UNDO_STEPS);
    expect(long.past[0]).toBe("20");
  });
});
