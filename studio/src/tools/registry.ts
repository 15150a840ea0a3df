// The tools registry as a person browses it: search, and JSON Schemas as readable rows.
import type { Schemas } from "../api/client";

type Tool = Schemas["ToolOut"];
type JsonSchema = Record<string, unknown>;

/** Tools whose name, description or tags contain every word of the query (any case). */
export function searchTools(tools: Tool[], query: string): Tool[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return tools;
  return tools.filter((tool) => {
    const latest = tool.versions[0];
    const haystack = [tool.name, latest?.description ?? "", ...(latest?.tags ?? [])].join(" ").toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

export interface SchemaField {
  /** Dotted path from the root, `[]` marking array items, e.g. `items[].title`. */
  path: string;
  type: string;
  required: boolean;
  description: string;
  /** Constraints worth knowing: enum, default, bounds, formats. */
  notes: string[];
}

function asSchema(value: unknown): JsonSchema | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonSchema) : null;
}

/** A `$ref` into the same document's `$defs` (Pydantic's only kind), resolved. */
function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return schema;
  let target: unknown = root;
  for (const part of ref.slice(2).split("/")) target = asSchema(target)?.[part];
  return asSchema(target) ?? schema;
}

function typeOf(schema: JsonSchema, root: JsonSchema): string {
  const variants = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined;
  if (Array.isArray(variants)) {
    return variants.map((v) => typeOf(resolve(asSchema(v) ?? {}, root), root)).join(" | ");
  }
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  if (typeof schema.type === "string") {
    if (schema.type === "array") {
      const items = asSchema(schema.items);
      return `${items ? typeOf(resolve(items, root), root) : "any"}[]`;
    }
    return schema.type;
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return "enum";
  return "any";
}

const NOTE_KEYS = ["minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern", "format"];

function notesOf(schema: JsonSchema): string[] {
  const notes: string[] = [];
  if (Array.isArray(schema.enum)) notes.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  if (schema.default !== undefined) notes.push(`default ${JSON.stringify(schema.default)}`);
  for (const key of NOTE_KEYS) if (schema[key] !== undefined) notes.push(`${key} ${String(schema[key])}`);
  return notes;
}

/** Every property of an object schema (nested objects and array items too), in order. */
export function schemaFields(root: JsonSchema, maxDepth = 4): SchemaField[] {
  const fields: SchemaField[] = [];
  const walk = (node: JsonSchema, prefix: string, depth: number) => {
    const schema = resolve(node, root);
    const properties = asSchema(schema.properties);
    if (properties && depth < maxDepth) {
      const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
      for (const [name, raw] of Object.entries(properties)) {
        const child = resolve(asSchema(raw) ?? {}, root);
        const path = prefix ? `${prefix}.${name}` : name;
        fields.push({
          path,
          type: typeOf(child, root),
          required: required.has(name),
          description: typeof child.description === "string" ? child.description : "",
          notes: notesOf(child),
        });
        walk(child, path, depth + 1);
      }
    }
    const items = asSchema(schema.items);
    if (items && depth < maxDepth) walk(items, `${prefix}[]`, depth + 1);
  };
  walk(root, "", 0);
  return fields;
}
