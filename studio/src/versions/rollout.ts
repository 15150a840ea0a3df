// The rollout state of a tree (GET .../rollout) in words.
import type { Schemas } from "../api/client";

/** What a run that names no version gets now, e.g. "About 50% of runs use v2, the rest v1". */
export function rolloutSentence(state: Schemas["RolloutOut"]): string {
  const stable = state.stable_version;
  if (stable === null) return "Not published: runs must name a version.";
  if (!state.defined) return `No rollout flag: every run that names no version uses v${stable}.`;
  const candidate = state.candidate_version;
  const share = Math.round(state.candidate_share * 100);
  if (candidate === null || share === 0) return `Rollout flag off here: runs use v${stable}.`;
  if (share === 100) return `Rollout flag on: every run that names no version uses v${candidate}.`;
  return `Rollout in progress: about ${share}% of runs use v${candidate}, the rest v${stable}.`;
}
