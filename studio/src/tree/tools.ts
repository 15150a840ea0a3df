// Which registered tool version a node's constraint (`summarize@^1`) resolves to, and
// the palette's entries (every version the tenant may use).

import { isNodeKind, type NodeKind } from "./model";

export interface ToolVersionLike {
  version: string;
  /** `tool`, or `decision` for the activities decision nodes use (not for tool nodes). */
  kind?: string;
  description: string;
  input_schema: Record<string, unknown>;
  deprecated?: string | null;
}

export interface ToolLike {
  name: string;
  allowed: boolean;
  /** `platform` (built-in and entry-point tools) or `tenant` (declarative HTTP tools). */
  source?: string;
  versions: ToolVersionLike[];
}

const parts = (version: string): number[] => version.split(/[.+-]/).slice(0, 3).map((p) => Number(p) || 0);

export function compareVersions(a: string, b: string): number {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

function matches(version: string, spec: string): boolean {
  if (spec === "" || spec === "*" || spec === "latest") return true;
  const [major, minor] = parts(version);
  if (spec.startsWith("^")) return major === parts(spec.slice(1))[0];
  if (spec.startsWith("~")) {
    const [m, n] = parts(spec.slice(1));
    return major === m && minor === n;
  }
  return compareVersions(version, spec) === 0 && version.split(".").length >= 1;
}

/** The newest version of the named tool matching the constraint, or null. */
export function resolveTool(constraint: string, tools: readonly ToolLike[]): { tool: ToolLike; version: ToolVersionLike } | null {
  const [name, spec = ""] = constraint.split("@", 2);
  const tool = tools.find((t) => t.name === name);
  if (!tool) return null;
  const candidates = tool.versions.filter((v) => matches(v.version, spec)).sort((a, b) => compareVersions(b.version, a.version));
  return candidates[0] ? { tool, version: candidates[0] } : null;
}

/** Palette entries: each allowed tool version as a constraint on its major (`name@^1`). */
export function paletteTools(tools: readonly ToolLike[]): { constraint: string; label: string; description: string }[] {
  const entries: { constraint: string; label: string; description: string }[] = [];
  for (const tool of tools.filter((t) => t.allowed)) {
    const sorted = [...tool.versions].sort((a, b) => compareVersions(b.version, a.version));
    for (const version of sorted.filter((v) => (v.kind ?? "tool") === "tool")) {
      entries.push({
        constraint: `${tool.name}@^${parts(version.version)[0]}`,
        label: `${tool.name}@${version.version}${version.deprecated ? " (deprecated)" : ""}`,
        description: version.description,
      });
    }
  }
  return entries;
}

/** What a palette entry adds: a node of a kind, for tools with its constraint. */
export interface PaletteItem {
  kind: NodeKind;
  tool?: string;
}

/** Parse drag data back into a palette item (null for anything else dropped). */
export function asPaletteItem(text: string): PaletteItem | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return null;
    const { kind, tool } = value as { kind?: unknown; tool?: unknown };
    if (!isNodeKind(kind)) return null;
    if (tool !== undefined && typeof tool !== "string") return null;
    return tool === undefined ? { kind } : { kind, tool };
  } catch {
    return null;
  }
}

const SOURCE_TITLES: Record<string, string> = {
  platform: "Platform tools (built-in and entry-point)",
  tenant: "Tenant tools (declarative)",
};

/** Palette entries grouped by where the tool comes from (`source` of the tools endpoint). */
export function paletteGroups(tools: readonly ToolLike[]): { title: string; entries: ReturnType<typeof paletteTools> }[] {
  const groups: { title: string; entries: ReturnType<typeof paletteTools> }[] = [];
  for (const source of ["platform", "tenant"]) {
    const entries = paletteTools(tools.filter((t) => (t.source ?? "platform") === source));
    if (entries.length > 0) groups.push({ title: SOURCE_TITLES[source]!, entries });
  }
  return groups;
}
