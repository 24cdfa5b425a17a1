/**
 * A compare pass's per-unit results (diff records, worst lists, histograms) merged in unit order
 * into the report of one tensor, its scratch given back to the arena: the one way `checkBatchNorm`
 * and the gradient check turn a pass into a `TensorComparison`.
 */
import { channelRecordsOf, summarizeDiff, type SummarizeInput, type TensorComparison } from "./compare.js";
import { mergeHistograms, mergeWorst } from "../kernel/diff.js";
import type { UnitGrid } from "../kernel/units.js";
import { releaseScratch, type PassResult } from "../parallel/executor.js";

export function comparisonFromPass(
  pass: PassResult,
  grid: UnitGrid,
  input: Omit<SummarizeInput, "channelRecords" | "channelCount" | "worst" | "histogram">,
): TensorComparison {
  const { records, worst, histograms } = pass.arrays;
  const comparison = summarizeDiff({
    ...input,
    channelRecords: channelRecordsOf(grid, records),
    channelCount: grid.geometry.channels,
    worst: mergeWorst(worst, grid.unitCount),
    histogram: mergeHistograms(histograms, grid.unitCount),
  });
  releaseScratch(pass);
  return comparison;
}
