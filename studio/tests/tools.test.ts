import { describe, expect, it } from "vitest";
import { compareVersions, paletteTools, resolveTool, type ToolLike } from "../src/tree/tools";

const v = (version: string, deprecated: string | null = null) => ({ version, description: `v${version}`, input_schema: {}, deprecated });
const TOOLS: ToolLike[] = [
  { name: "query", allowed: true, versions: [v("1.0.0"), v("2.0.0"), v("2.1.0"), v("1.4.2", "use 2")] },
  { name: "secret_tool", allowed: false, versions: [v("1.0.0")] },
  { name: "router", allowed: true, versions: [{ ...v("1.0.0"), kind: "decision" }] },
];

describe("tool constraints", () => {
  it("resolves caret, tilde, exact and bare constraints to the newest match", () => {
    expect(resolveTool("query@^1", TOOLS)?.version.version).toBe("1.4.2");
    expect(resolveTool("query@^2", TOOLS)?.version.version).toBe("2.1.0");
    expect(resolveTool("query@~2.0", TOOLS)?.version.version).toBe("2.0.0");
    expect(resolveTool("query@1.0.0", TOOLS)?.version.version).toBe("1.0.0");
    expect(resolveTool("query", TOOLS)?.version.version).toBe("2.1.0");
    expect(resolveTool("query@^3", TOOLS)).toBeNull();
    expect(resolveTool("nosuch@^1", TOOLS)).toBeNull();
    expect(compareVersions("1.10.0", "1.9.0")).toBeGreaterThan(0);
  });

  it("lists allowed tool versions only (no decision activities), newest first", () => {
    expect(paletteTools(TOOLS).map((e) => e.label)).toEqual([
      "query@2.1.0",
      "query@2.0.0",
      "query@1.4.2 (deprecated)",
      "query@1.0.0",
    ]);
    expect(paletteTools(TOOLS)[0]?.constraint).toBe("query@^2");
  });
});

describe("palette entries and their drag data", () => {
  it("groups tool versions by where they come from", async () => {
    const { paletteGroups } = await import("../src/tree/tools");
    const groups = paletteGroups([
      { name: "summarize", allowed: true, source: "platform", versions: [{ version: "1.0.0", description: "s", input_schema: {} }] },
      { name: "crm", allowed: true, source: "tenant", versions: [{ version: "2.1.0", description: "c", input_schema: {} }] },
      { name: "hidden", allowed: false, source: "tenant", versions: [{ version: "1.0.0", description: "h", input_schema: {} }] },
    ]);
    expect(groups.map((g) => [g.title, g.entries.map((e) => e.constraint)])).toEqual([
      ["Platform tools (built-in and entry-point)", ["summarize@^1"]],
      ["Tenant tools (declarative)", ["crm@^2"]],
    ]);
    expect(paletteGroups([])).toEqual([]);
  });

  it("reads back only well-formed palette items", async () => {
    const { asPaletteItem } = await import("../src/tree/tools");
    expect(asPaletteItem(JSON.stringify({ kind: "tool", tool: "summarize@^1" }))).toEqual({ kind: "tool", tool: "summarize@^1" });
    expect(asPaletteItem(JSON.stringify({ kind: "end" }))).toEqual({ kind: "end" });
    expect(asPaletteItem(JSON.stringify({ kind: "nope" }))).toBeNull();
    expect(asPaletteItem(JSON.stringify({ kind: "tool", tool: 3 }))).toBeNull();
    expect(asPaletteItem("null")).toBeNull();
    expect(asPaletteItem("not json")).toBeNull();
  });
});
