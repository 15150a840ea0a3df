import { describe, expect, it } from "vitest";
import { changeFilters, filtersFromQuery, filtersToQuery, fromLocalInput, listQuery, toLocalInput } from "../src/runs/filters";

describe("runs list filters in the URL", () => {
  it("round-trips every filter through the query", () => {
    const filters = { tree: "triage", status: "failed" as const, after: "2026-12-01T00:00:00.000Z", before: "2026-12-02T00:00:00.000Z", page: "tok", limit: 5 };
    const query = filtersToQuery(filters);
    expect(query.toString()).toBe("tree=triage&status=failed&after=2026-12-01T00%3A00%3A00.000Z&before=2026-12-02T00%3A00%3A00.000Z&limit=5&page=tok");
    expect(filtersFromQuery(query)).toEqual(filters);
  });

  it("drops values the API would refuse", () => {
    expect(filtersFromQuery(new URLSearchParams("tree=Bad Name&status=sleeping&after=soon&before=&page=&limit=0"))).toEqual({});
    expect(filtersFromQuery(new URLSearchParams("limit=201"))).toEqual({});
    expect(filtersFromQuery(new URLSearchParams("limit=2.5"))).toEqual({});
    expect(filtersFromQuery(new URLSearchParams("after=2026-12-01T01:00:00%2B01:00"))).toEqual({ after: "2026-12-01T00:00:00.000Z" });
  });

  it("goes back to the first page when a filter changes, keeps the page when paging", () => {
    const paged = { tree: "a", page: "p2" };
    expect(changeFilters(paged, { status: "running" })).toEqual({ tree: "a", status: "running" });
    expect(changeFilters(paged, { page: "p3" })).toEqual({ tree: "a", page: "p3" });
    expect(changeFilters(paged, { page: undefined })).toEqual({ tree: "a" });
    expect(changeFilters(paged, { tree: undefined })).toEqual({});
  });

  it("becomes the API's list query", () => {
    expect(listQuery({}, 20)).toEqual({ limit: 20 });
    expect(listQuery({ tree: "t", status: "completed", after: "A", before: "B", page: "P", limit: 5 }, 20)).toEqual({
      limit: 5,
      tree: "t",
      status: "completed",
      started_after: "A",
      started_before: "B",
      page_token: "P",
    });
  });

  it("converts datetime-local values in the browser's zone both ways", () => {
    const iso = fromLocalInput("2026-12-02T04:30");
    expect(iso).toBe(new Date(2026, 11, 2, 4, 30).toISOString());
    expect(toLocalInput(iso)).toBe("2026-12-02T04:30");
    expect(fromLocalInput("")).toBeUndefined();
    expect(toLocalInput(undefined)).toBe("");
    expect(toLocalInput("garbage")).toBe("");
  });
});
