// The meaning diff of two tree versions (the API's DiffOut) as rows a person reads.
import type { Schemas } from "../api/client";

export type ChangeKind = "added" | "removed" | "changed" | "repinned";

export interface MeaningChange {
  kind: ChangeKind;
  node: string;
  /** For a repinned node: the exact tool before and after. */
  detail?: string;
}

const ORDER: Record<ChangeKind, number> = { added: 0, removed: 1, changed: 2, repinned: 3 };

/** Every node change, grouped added → removed → changed → repinned, by node id within each. */
export function meaningChanges(diff: Schemas["DiffOut"]): MeaningChange[] {
  const rows: MeaningChange[] = [
    ...diff.nodes_added.map((node) => ({ kind: "added" as const, node })),
    ...diff.nodes_removed.map((node) => ({ kind: "removed" as const, node })),
    ...diff.nodes_changed.map((node) => ({ kind: "changed" as const, node })),
    // A pin that appears or disappears belongs to an added or removed node: listed there.
    ...Object.entries(diff.pins_changed)
      .filter(([, pins]) => pins.from && pins.to)
      .map(([node, pins]) => ({ kind: "repinned" as const, node, detail: `${pins.from} → ${pins.to}` })),
  ];
  return rows.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || a.node.localeCompare(b.node));
}

/** One line summing the meaning diff up, e.g. "2 nodes added, 1 changed". */
export function changeSummary(diff: Schemas["DiffOut"]): string {
  if (!diff.hash_changed) return "Same meaning: runs of either version behave the same.";
  const parts = [
    [diff.nodes_added.length, "added"],
    [diff.nodes_removed.length, "removed"],
    [diff.nodes_changed.length, "changed"],
    [Object.values(diff.pins_changed).filter((p) => p.from && p.to).length, "repinned"],
  ]
    .filter(([count]) => Number(count) > 0)
    .map(([count, what]) => `${count} ${what}`);
  return parts.length ? `Meaning changed: ${parts.join(", ")}.` : "Meaning changed (tree-level settings).";
}
