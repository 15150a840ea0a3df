import { describe, expect, it } from "vitest";
import type { Schemas } from "../src/api/client";
import { schemaFields, searchTools } from "../src/tools/registry";

function tool(name: string, description: string, tags: string[] = []): Schemas["ToolOut"] {
  const version = {
    version: "1.0.0",
    activity: `${name}@1.0.0`,
    description,
    kind: "tool",
    deprecated: null,
    tags,
    timeout_seconds: 30,
    input_schema: {},
    output_schema: {},
  };
  return { name, source: "platform", allowed: true, latest: "1.0.0", versions: [version] };
}

describe("tool search", () => {
  const tools = [tool("summarize", "Summarize a text", ["text"]), tool("http_request", "Call an HTTP API", ["net"])];
  it("matches every word against name, description and tags", () => {
    expect(searchTools(tools, "").map((t) => t.name)).toEqual(["summarize", "http_request"]);
    expect(searchTools(tools, "  HTTP ").map((t) => t.name)).toEqual(["http_request"]);
    expect(searchTools(tools, "text summ").map((t) => t.name)).toEqual(["summarize"]);
    expect(searchTools(tools, "net text")).toEqual([]);
    expect(searchTools([{ ...tool("bare", ""), versions: [] }], "bare")).toHaveLength(1);
  });
});

describe("schema fields", () => {
  it("lists properties with type, requiredness, description and constraints, nested", () => {
    const schema = {
      type: "object",
      required: ["text"],
      properties: {
        text: { type: "string", minLength: 1, description: "What to say" },
        level: { enum: ["low", "high"], default: "low" },
        limit: { anyOf: [{ type: "integer", maximum: 10 }, { type: "null" }] },
        tags: { type: "array", items: { type: "string" } },
        owner: { $ref: "#/$defs/Person" },
        rows: { type: "array", items: { $ref: "#/$defs/Person" } },
        kind: { const: "x" },
        extra: {},
        multi: { type: ["string", "number"] },
      },
      $defs: { Person: { type: "object", required: ["id"], properties: { id: { type: "string", format: "uuid" } } } },
    };
    const fields = schemaFields(schema);
    expect(fields.map((f) => [f.path, f.type, f.required])).toEqual([
      ["text", "string", true],
      ["level", "enum", false],
      ["limit", "integer | null", false],
      ["tags", "string[]", false],
      ["owner", "object", false],
      ["owner.id", "string", true],
      ["rows", "object[]", false],
      ["rows[].id", "string", true],
      ["kind", '"x"', false],
      ["extra", "any", false],
      ["multi", "string | number", false],
    ]);
    expect(fields[0]).toMatchObject({ description: "What to say", notes: ["minLength 1"] });
    expect(fields[1]?.notes).toEqual(['one of "low", "high"', 'default "low"']);
    expect(fields.find((f) => f.path === "owner.id")?.notes).toEqual(["format uuid"]);
    expect(schemaFields({ type: "array" })).toEqual([]);
    expect(schemaFields({ $ref: "#/$defs/Missing" })).toEqual([]);
  });
});
