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
