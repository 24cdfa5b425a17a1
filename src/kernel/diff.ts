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
 * Folds `count` records of `from`, `stride` values apart from `fromBase` on, into record `into`, in
 * that order; merged in increasing unit order, maxima keep the first index on ties, as a sequential
 * scan would. One loop with the record in locals,
 * not a call per record: a compare merges a record per channel and unit (2,080 for 32x64x56x56)
 * once per process, before V8 has optimised anything, and a call per record and per maximum cost
 * 4-5 ms there where this loop costs a fraction of one (V8 optimises a running loop, not a function
 * called a few thousand times).
 */
export function mergeDiffRecords(
  into: Float64Array,
  intoBase: number,
  from: Float64Array,
  fromBase: number,
  count: number,
  stride: number,
): void {
  let elements = into[intoBase + D_COUNT];
  let mismatches = into[intoBase + D_MISMATCHES];
  let flatMismatches = into[intoBase + D_FLAT_MISMATCHES];
  let nonFinite = into[intoBase + D_NONFINITE_MISMATCHES];
  let sumAbs = into[intoBase + D_SUM_ABS];
  let finitePairs = into[intoBase + D_FINITE_PAIRS];
  let maxAbs = into[intoBase + D_MAX_ABS];
  let maxAbsIndex = into[intoBase + D_MAX_ABS_INDEX];
  let maxRel = into[intoBase + D_MAX_REL];
  let maxRelIndex = into[intoBase + D_MAX_REL_INDEX];
  let maxUlp = into[intoBase + D_MAX_ULP];
  let maxUlpIndex = into[intoBase + D_MAX_ULP_INDEX];
  let maxRatio = into[intoBase + D_MAX_BOUND_RATIO];
  let maxRatioIndex = into[intoBase + D_MAX_BOUND_RATIO_INDEX];
  let requiredAtol = into[intoBase + D_REQUIRED_ATOL];
  let requiredRtol = into[intoBase + D_REQUIRED_RTOL];
  for (let k = 0, at = fromBase; k < count; k++, at += stride) {
    elements += from[at + D_COUNT];
    mismatches += from[at + D_MISMATCHES];
    flatMismatches += from[at + D_FLAT_MISMATCHES];
    nonFinite += from[at + D_NONFINITE_MISMATCHES];
    sumAbs += from[at + D_SUM_ABS];
    finitePairs += from[at + D_FINITE_PAIRS];
    // Each maximum: the larger value; on a tie, the smaller index >= 0 (as a sequential scan would).
    let value = from[at + D_MAX_ABS];
    let index = from[at + D_MAX_ABS_INDEX];
    if (value > maxAbs || (value === maxAbs && index >= 0 && (maxAbsIndex < 0 || index < maxAbsIndex))) {
      maxAbs = value;
      maxAbsIndex = index;
    }
    value = from[at + D_MAX_REL];
    index = from[at + D_MAX_REL_INDEX];
    if (value > maxRel || (value === maxRel && index >= 0 && (maxRelIndex < 0 || index < maxRelIndex))) {
      maxRel = value;
      maxRelIndex = index;
    }
    value = from[at + D_MAX_ULP];
    index = from[at + D_MAX_ULP_INDEX];
    if (value > maxUlp || (value === maxUlp && index >= 0 && (maxUlpIndex < 0 || index < maxUlpIndex))) {
      maxUlp = value;
      maxUlpIndex = index;
    }
    value = from[at + D_MAX_BOUND_RATIO];
    index = from[at + D_MAX_BOUND_RATIO_INDEX];
    if (value > maxRatio || (value === maxRatio && index >= 0 && (maxRatioIndex < 0 || index < maxRatioIndex))) {
      maxRatio = value;
      maxRatioIndex = index;
    }
    requiredAtol = Math.max(requiredAtol, from[at + D_REQUIRED_ATOL]);
    requiredRtol = Math.max(requiredRtol, from[at + D_REQUIRED_RTOL]);
  }
  into[intoBase + D_COUNT] = elements;
  into[intoBase + D_MISMATCHES] = mismatches;
  into[intoBase + D_FLAT_MISMATCHES] = flatMismatches;
  into[intoBase + D_NONFINITE_MISMATCHES] = nonFinite;
  into[intoBase + D_SUM_ABS] = sumAbs;
  into[intoBase + D_FINITE_PAIRS] = finitePairs;
  into[intoBase + D_MAX_ABS] = maxAbs;
  into[intoBase + D_MAX_ABS_INDEX] = maxAbsIndex;
  into[intoBase + D_MAX_REL] = maxRel;
  into[intoBase + D_MAX_REL_INDEX] = maxRelIndex;
  into[intoBase + D_MAX_ULP] = maxUlp;
  into[intoBase + D_MAX_ULP_INDEX] = maxUlpIndex;
  into[intoBase + D_MAX_BOUND_RATIO] = maxRatio;
  into[intoBase + D_MAX_BOUND_RATIO_INDEX] = maxRatioIndex;
  into[intoBase + D_REQUIRED_ATOL] = requiredAtol;
  into[intoBase + D_REQUIRED_RTOL] = requiredRtol;
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
        if (!before(excess, index, kept[WORST_KEPT - 1])) {
          // A list runs by decreasing excess (ties in the order offered): once an entry's excess is
          // below the last kept one's, so is every later entry's.
          if (excess < kept[WORST_KEPT - 1].excess) break;
          continue;
        }
        kept.pop();
      }
      let slot = kept.length;
      while (slot > 0 && before(excess, index, kept[slot - 1])) slot--;
      kept.splice(slot, 0, { excess, index });
    }
  }
  return kept;
}
