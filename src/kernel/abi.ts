/**
 * The layouts the JavaScript kernel, the WebAssembly kernel (bn-kernel.wat) and the readers of their
 * results share, in one place: the records a pass writes per channel and unit (diff, statistics,
 * gradient sums), the ulp histogram's buckets, the worst lists, and the per-channel constants a pass
 * reads (runs of `channels` float64 values: run k of channel c at `k * channels + c`, see
 * `constantIndex`). scripts/build-wasm.mjs fills the .wat's `{{NAME}}` placeholders from this
 * module's numbers and refuses a .wat that names anything else, so the two kernels cannot disagree on
 * where a field lives.
 */

// ---- Diff records (the compare pass) ----

/** Field offsets of one record (one per channel per unit) in a Float64Array. */
export const D_COUNT = 0;
export const D_MISMATCHES = 1;
export const D_NONFINITE_MISMATCHES = 2;
export const D_MAX_ABS = 3;
export const D_MAX_ABS_INDEX = 4;
export const D_MAX_REL = 5;
export const D_MAX_REL_INDEX = 6;
export const D_MAX_ULP = 7;
export const D_MAX_ULP_INDEX = 8;
export const D_REQUIRED_ATOL = 9;
export const D_REQUIRED_RTOL = 10;
export const D_SUM_ABS = 11;
export const D_FINITE_PAIRS = 12;
/** Elements outside the flat tolerance (`D_MISMATCHES` counts those outside the whole allowance). */
export const D_FLAT_MISMATCHES = 13;
/** Largest |error| / B over the elements outside the flat tolerance, and its index. */
export const D_MAX_BOUND_RATIO = 14;
export const D_MAX_BOUND_RATIO_INDEX = 15;
export const DIFF_RECORD_SIZE = 16;

/**
 * Histogram of the error in ulps of the reference's precision, by powers of two, one per unit (not
 * per channel: a tensor with millions of channels would pay 27 counters for each): bucket 0 holds
 * exact agreements, bucket b (1..24) distances in [2^(b−1), 2^b), bucket 25 distances of 2^24 ulps
 * or more, the last bucket non-finite disagreements (NaN or an unmatched infinity). Ulps are counted
 * anyway for the max-ulp statistic, so the histogram costs one increment per element.
 */
export const HISTOGRAM_BUCKETS = 27;
export const HISTOGRAM_NONFINITE = HISTOGRAM_BUCKETS - 1;

// ---- The SIMD compare's first sweep and the worst lists ----

/**
 * Groups of four values per block of the SIMD compare kernel's first sweep (bn-kernel.wat
 * `compare_cols`, "The first sweep"): a block with no value non-finite, outside its flat tolerance or
 * above atol is settled there (block maxima, indices resolved at the end, the worst list offered its
 * values when one beats it), any other is redone by the detailed loop. At most 255 (the sweep counts
 * histogram buckets in bytes). S1, in process, one thread, median of 9: 16 groups 29.2 ms, 32 28.9,
 * 64 30.8 (smaller blocks redo less after a worst-list hit, larger ones pay less per block end).
 */
export const SWEEP_BLOCK_GROUPS = 32;

/** Number of worst elements each unit keeps (excess over the allowance, flat index). */
export const WORST_KEPT = 8;

// ---- Statistics records (the stats pass): count, mean, M2 per channel and unit ----

export const S_COUNT = 0;
export const S_MEAN = 1;
export const S_M2 = 2;
export const STATS_RECORD_SIZE = 3;

// ---- Gradient-sum records (the backward sums pass) and the dx constants ----

export const G_SUM_DY = 0;
export const G_SUM_ABS_DY = 1;
export const G_SUM_ABS_DY_CENTRED = 2;
export const G_SUM_DY_CENTRED = 3;
export const G_MAX_ABS_DY = 4;
export const G_MAX_ABS_CENTRED = 5;
export const GRAD_RECORD_SIZE = 6;

/** Float64 values of lane scratch the SIMD kernel needs per unit (4 lane pairs × 6 fields × 2). */
export const GRAD_LANE_SCRATCH = 48;

/** Runs of C values in the dx constants: μ, a (per dy), b (per x − μ), d (constant). */
export const GRAD_CONSTANT_RUNS = 4;

/** The dx constants' runs: μ, a (the factor of dy), b (the factor of x − μ), d (the constant term). */
export const GC_MEAN = 0;
export const GC_DY_SCALE = 1;
export const GC_CENTRED_SCALE = 2;
export const GC_OFFSET = 3;

// ---- Per-channel constants of y = (x − shift)·scale + offset and of the bound B ----

/**
 * Runs of C values in a channel constants array: shift, scale and offset of y, then the error
 * model's four bound coefficients (src/check/error-model.ts), which only the compare pass reads.
 */
export const CONSTANT_RUNS = 7;
/** The constants' runs: y's shift, scale and offset, then the error model's bound coefficients b0..b3. */
export const C_SHIFT = 0;
export const C_SCALE = 1;
export const C_OFFSET = 2;
/** b0: the part of B that does not grow with the data. */
export const C_BOUND_CONSTANT = 3;
/** b1: B's growth with |x|. */
export const C_BOUND_PER_INPUT = 4;
/** b2: B's growth with |x − μ|. */
export const C_BOUND_PER_CENTRED = 5;
/** b3: B's growth with |y|. */
export const C_BOUND_PER_OUTPUT = 6;

/** Where run `run` of channel `c` lives in a constants array of `channels` channels. */
export function constantIndex(run: number, channels: number, c: number): number {
  return run * channels + c;
}
