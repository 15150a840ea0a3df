import { describe, expect, it } from "vitest";
import type { Schemas } from "../src/api/client";
import { changeSummary, meaningChanges } from "../src/versions/changes";
import { rolloutSentence } from "../src/versions/rollout";
import { textDiff, withContext } from "../src/versions/textDiff";

const diff: Schemas["DiffOut"] = {
  from_version: 1,
  to_version: 2,
  hash_changed: true,
  nodes_added: ["notify"],
  nodes_removed: ["old"],
  nodes_changed: ["greet", "done"],
  pins_changed: {
    greet: { from: "text_response@1.0.0", to: "text_response@1.1.0" },
    notify: { from: null, to: "send@1.0.0" },
  },
  unified_diff: "",
};

describe("meaning diff", () => {
  it("lists added, removed, changed and repinned nodes in that order", () => {
    expect(meaningChanges(diff)).toEqual([
      { kind: "added", node: "notify" },
      { kind: "removed", node: "old" },
      { kind: "changed", node: "done" },
      { kind: "changed", node: "greet" },
      { kind: "repinned", node: "greet", detail: "text_response@1.0.0 → text_response@1.1.0" },
    ]);
  });

  it("sums the change up in one line", () => {
    expect(changeSummary(diff)).toBe("Meaning changed: 1 added, 1 removed, 2 changed, 1 repinned.");
    const same = { ...diff, hash_changed: false, nodes_added: [], nodes_removed: [], nodes_changed: [], pins_changed: {} };
    expect(changeSummary(same)).toMatch(/^Same meaning/);
    expect(changeSummary({ ...same, hash_changed: true })).toBe("Meaning changed (tree-level settings).");
  });
});

describe("text diff", () => {
  const older = "name: t\nstart: a\nnodes:\n  a: 1\n  b: 2\n  c: 3\n  d: 4\n  e: 5\n  f: 6\n";
  const newer = "name: t\nstart: a\nnodes:\n  a: 1\n  b: 2\n  c: three\n  d: 4\n  e: 5\n  f: 6\n  g: 7\n";

  it("numbers every line in both texts and marks what changed", () => {
    const rows = textDiff(older, newer);
    expect(rows.filter((r) => r.kind === "removed")).toEqual([{ kind: "removed", text: "  c: 3", oldLine: 6, newLine: null }]);
    expect(rows.filter((r) => r.kind === "added").map((r) => [r.text, r.newLine])).toEqual([
      ["  c: three", 6],
      ["  g: 7", 10],
    ]);
    expect(rows.at(-2)).toEqual({ kind: "same", text: "  f: 6", oldLine: 9, newLine: 9 });
    expect(textDiff(older, older).every((r) => r.kind === "same")).toBe(true);
  });

  it("keeps context lines around changes and marks the gaps", () => {
    const shown = withContext(textDiff(older, newer), 1);
    expect(shown.map((r) => (r === null ? "…" : r.text))).toEqual([
      "…",
      "  b: 2",
      "  c: 3",
      "  c: three",
      "  d: 4",
      "…",
      "  f: 6",
      "  g: 7",
    ]);
    expect(withContext(textDiff(older, older))).toEqual([null]);
  });
});

describe("rollout state", () => {
  const base: Schemas["RolloutOut"] = {
    flag: "tree.t.rollout",
    defined: true,
    stable_version: 1,
    candidate_version: 2,
    candidate_share: 0.5,
    variant: null,
  };
  it("says which version runs that name none use", () => {
    expect(rolloutSentence(base)).toBe("Rollout in progress: about 50% of runs use v2, the rest v1.");
    expect(rolloutSentence({ ...base, candidate_share: 1 })).toMatch(/every run .* uses v2/);
    expect(rolloutSentence({ ...base, candidate_share: 0 })).toBe("Rollout flag off here: runs use v1.");
    expect(rolloutSentence({ ...base, candidate_version: null })).toBe("Rollout flag off here: runs use v1.");
    expect(rolloutSentence({ ...base, defined: false })).toMatch(/^No rollout flag: .* uses v1\.$/);
    expect(rolloutSentence({ ...base, stable_version: null })).toMatch(/^Not published/);
  });
});
