/**
 * The mergeable record the element-wise comparison accumulates into (the rule itself is applied in
 * one loop, `compareUnits` in batch-norm.ts, which every comparison path runs: the fused
 * BN-and-compare pass in the workers, the running-statistics check and `compareTensors`).
 *
 * Rule (numpy/torch style, asymmetric: `expected` is the reference), widened by the error model:
 *   |actual − expected| ≤ max(atol + rtol·|expected|, B), in float64, where B is the error model's
 *   bound for the element (src/check/error-model.ts; 0 under --strict and for plain comparisons).
 *   NaN matches NaN only with `equalNan`; an infinity matches only the same infinity.
 * Statistics (max absolute/relative error, max ulp distance, the tolerances that would have passed)
 * are taken over the pairs where both values are finite; non-finite disagreements are counted apart
 * and make every "would have passed" tolerance infinite.
 */
import type { ComputeDType } from "../core/tensor.js";
import {
  DIFF_RECORD_SIZE,
  D_COUNT,
  D_FINITE_PAIRS,
  D_FLAT_MISMATCHES,
  D_MAX_ABS,
  D_MAX_ABS_INDEX,
  D_MAX_BOUND_RATIO,
  D_MAX_BOUND_RATIO_INDEX,
  D_MAX_REL,
  D_MAX_REL_INDEX,
  D_MAX_ULP,
  D_MAX_ULP_INDEX,
  D_MISMATCHES,
  D_NONFINITE_MISMATCHES,
  D_REQUIRED_ATOL,
  D_REQUIRED_RTOL,
  D_SUM_ABS,
  HISTOGRAM_BUCKETS,
  WORST_KEPT,
} from "./abi.js";

export interface DiffRule {
  readonly atol: number;
  readonly rtol: number;
  readonly equalNan: boolean;
  /** The format ulp distances are counted in (the reference's dtype or its compute dtype). */
  readonly ulpDtype: ComputeDType;
}

const LAST_FINITE_BUCKET = HISTOGRAM_BUCKETS - 2;

/**
 * Bucket labels of the error histogram: exactly 0, below 1e-12, one bucket per decade up to 1,
 * [1, 10), 10 and above, and non-finite disagreements (NaN or an unmatched infinity).
 */
export const HISTOGRAM_LABELS: readonly string[] = [
  "0",
  ...Array.from({ length: LAST_FINITE_BUCKET - 1 }, (_, k) => (k === 0 ? "1" : `${2 ** k}-${2 ** (k + 1) - 1}`)),
  `>=${2 ** (LAST_FINITE_BUCKET - 1)}`,
  "non-finite",
];

/** Histogram bucket of a distance in ulps (a non-negative integer). */
export function ulpBucket(ulps: number): number {
  if (ulps < 2 ** 31) {
    const bucket = 32 - Math.clz32(ulps);
    return Math.min(bucket, LAST_FINITE_BUCKET);
  }
  return LAST_FINITE_BUCKET;
}

/** One diff record as named fields (what reports read, and what the kernel writes). */
export interface DiffTotals {
  count: number;
  /** Outside the allowance: max(flat tolerance, the error model's bound). */
  mismatches: number;
  /** Outside the flat tolerance atol + rtol·|expected|. */
  flatMismatches: number;
  /** Largest |error| / bound among the elements outside the flat tolerance (0 if none). */
  maxBoundRatio: number;
  maxBoundRatioIndex: number;
  nonFiniteMismatches: number;
  finitePairs: number;
  sumAbs: number;
  maxAbs: number;
  maxAbsIndex: number;
  maxRel: number;
  maxRelIndex: number;
  maxUlp: number;
  maxUlpIndex: number;
  requiredAtol: number;
  requiredRtol: number;
}

/** The units' histograms added up, bucket by bucket. */
export function mergeHistograms(histograms: Float64Array, unitCount: number): number[] {
  const total = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  for (let unit = 0; unit < unitCount; unit++)
    for (let bucket = 0; bucket < HISTOGRAM_BUCKETS; bucket++)
      total[bucket] += histograms[unit * HISTOGRAM_BUCKETS + bucket];
  return total;
}

export function readDiffRecord(records: Float64Array, base: number): DiffTotals {
  return {
    count: records[base + D_COUNT],
    mismatches: records[base + D_MISMATCHES],
    flatMismatches: records[base + D_FLAT_MISMATCHES],
    maxBoundRatio: records[base + D_MAX_BOUND_RATIO],
    maxBoundRatioIndex: records[base + D_MAX_BOUND_RATIO_INDEX],
    nonFiniteMismatches: records[base + D_NONFINITE_MISMATCHES],
    finitePairs: records[base + D_FINITE_PAIRS],
    sumAbs: records[base + D_SUM_ABS],
    maxAbs: records[base + D_MAX_ABS],
    maxAbsIndex: records[base + D_MAX_ABS_INDEX],
    maxRel: records[base + D_MAX_REL],
    maxRelIndex: records[base + D_MAX_REL_INDEX],
    maxUlp: records[base + D_MAX_ULP],
    maxUlpIndex: records[base + D_MAX_ULP_INDEX],
    requiredAtol: records[base + D_REQUIRED_ATOL],
    requiredRtol: records[base + D_REQUIRED_RTOL],
  };
}

export function writeDiffRecord(records: Float64Array, base: number, totals: DiffTotals): void {
  records[base + D_COUNT] = totals.count;
  records[base + D_MISMATCHES] = totals.mismatches;
  records[base + D_FLAT_MISMATCHES] = totals.flatMismatches;
  records[base + D_MAX_BOUND_RATIO] = totals.maxBoundRatio;
  records[base + D_MAX_BOUND_RATIO_INDEX] = totals.maxBoundRatioIndex;
  records[base + D_NONFINITE_MISMATCHES] = totals.nonFiniteMismatches;
  records[base + D_FINITE_PAIRS] = totals.finitePairs;
  records[base + D_SUM_ABS] = totals.sumAbs;
  records[base + D_MAX_ABS] = totals.maxAbs;
  records[base + D_MAX_ABS_INDEX] = totals.maxAbsIndex;
  records[base + D_MAX_REL] = totals.maxRel;
  records[base + D_MAX_REL_INDEX] = totals.maxRelIndex;
  records[base + D_MAX_ULP] = totals.maxUlp;
  records[base + D_MAX_ULP_INDEX] = totals.maxUlpIndex;
  records[base + D_REQUIRED_ATOL] = totals.requiredAtol;
  records[base + D_REQUIRED_RTOL] = totals.requiredRtol;
}

export function initDiffRecord(records: Float64Array, base: number): void {
  records.fill(0, base, base + DIFF_RECORD_SIZE);
  records[base + D_MAX_ABS_INDEX] = -1;
  records[base + D_MAX_REL_INDEX] = -1;
  records[base + D_MAX_ULP_INDEX] = -1;
  records[base + D_MAX_BOUND_RATIO_INDEX] = -1;
  records[base + D_REQUIRED_ATOL] = 0;
  records[base + D_REQUIRED_RTOL] = 0;
}

export function initWorst(worst: Float64Array, base: number): void {
  for (let k = 0; k < WORST_KEPT; k++) {
    worst[base + 2 * k] = -Infinity;
    worst[base + 2 * k + 1] = -1;
  }
}

/** Keeps the list sorted by decreasing excess; equal excess keeps the earlier index first. */
export function insertWorst(worst: Float64Array, base: number, excess: number, index: number): void {
  let slot = WORST_KEPT - 1;
  while (slot > 0 && worst[base + 2 * (slot - 1)] < excess) {
    worst[base + 2 * slot] = worst[base + 2 * (slot - 1)];
    worst[base + 2 * slot + 1] = worst[base + 2 * (slot - 1) + 1];
    slot--;
  }
  worst[base + 2 * slot] = excess;
  worst[base + 2 * slot + 1] = index;
}

/**
 * Folds record `from` into record `into`. Merging in increasing unit order keeps the first index
 * on ties, as a sequential scan would.
 */
export function mergeDiffRecord(into: Float64Array, intoBase: number, from: Float64Array, fromBase: number): void {
  into[intoBase + D_COUNT] += from[fromBase + D_COUNT];
  into[intoBase + D_MISMATCHES] += from[fromBase + D_MISMATCHES];
  into[intoBase + D_FLAT_MISMATCHES] += from[fromBase + D_FLAT_MISMATCHES];
  into[intoBase + D_NONFINITE_MISMATCHES] += from[fromBase + D_NONFINITE_MISMATCHES];
  into[intoBase + D_SUM_ABS] += from[fromBase + D_SUM_ABS];
  into[intoBase + D_FINITE_PAIRS] += from[fromBase + D_FINITE_PAIRS];
  // Three calls rather than a loop over a literal table: this runs once per channel and unit (2048
  // times for 32x64x56x56), and the table's arrays were a measurable part of a one-shot compare.
  mergeMaximum(into, intoBase, from, fromBase, D_MAX_ABS, D_MAX_ABS_INDEX);
  mergeMaximum(into, intoBase, from, fromBase, D_MAX_REL, D_MAX_REL_INDEX);
  mergeMaximum(into, intoBase, from, fromBase, D_MAX_ULP, D_MAX_ULP_INDEX);
  mergeMaximum(into, intoBase, from, fromBase, D_MAX_BOUND_RATIO, D_MAX_BOUND_RATIO_INDEX);
  into[intoBase + D_REQUIRED_ATOL] = Math.max(into[intoBase + D_REQUIRED_ATOL], from[fromBase + D_REQUIRED_ATOL]);
  into[intoBase + D_REQUIRED_RTOL] = Math.max(into[intoBase + D_REQUIRED_RTOL], from[fromBase + D_REQUIRED_RTOL]);
}

/** Keeps the larger of two maxima; on a tie, the smaller index (as a sequential scan would). */
function mergeMaximum(
  into: Float64Array,
  intoBase: number,
  from: Float64Array,
  fromBase: number,
  value: number,
  index: number,
): void {
  const better =
    from[fromBase + value] > into[intoBase + value] ||
    (from[fromBase + value] === into[intoBase + value] &&
      from[fromBase + index] >= 0 &&
      (into[intoBase + index] < 0 || from[fromBase + index] < into[intoBase + index]));
  if (better) {
    into[intoBase + value] = from[fromBase + value];
    into[intoBase + index] = from[fromBase + index];
  }
}

/** Merges many worst lists into one, ordered by decreasing excess then increasing index. */
export function mergeWorst(lists: Float64Array, listCount: number): { excess: number; index: number }[] {
  // The WORST_KEPT first entries in (excess descending, index ascending) order, kept by insertion as
  // the lists are read: no array of every entry to sort (3328 of them for 32x64x56x56).
  const kept: { excess: number; index: number }[] = [];
  const before = (excess: number, index: number, entry: { excess: number; index: number }) =>
    excess > entry.excess || (excess === entry.excess && index < entry.index);
  for (let list = 0; list < listCount; list++) {
    for (let k = 0; k < WORST_KEPT; k++) {
      const index = lists[(list * WORST_KEPT + k) * 2 + 1];
      if (index < 0) continue;
      const excess = lists[(list * WORST_KEPT + k) * 2];
      if (kept.length === WORST_KEPT) {
        if (!before(excess, index, kept[WORST_KEPT - 1])) continue;
        kept.pop();
      }
      let slot = kept.length;
      while (slot > 0 && before(excess, index, kept[slot - 1])) slot--;
      kept.splice(slot, 0, { excess, index });
    }
  }
  return kept;
}
