/**
 * The BatchNorm kernel: pure functions over typed arrays, a unit grid and per-channel constants.
 * No I/O, no framework names, no threads: the pool and the single-thread path both call these.
 *
 * Method.
 * - Statistics: inside each unit (≈64 KiB, cache-resident) a corrected two-pass computation in
 *   float64: m = Σx/n, then M2 = Σ(x−m)² − (Σ(x−m))²/n. Units of a channel are merged in unit order
 *   with Chan et al.'s pairwise update (δ = m_b − m_a; m = m_a + δ·n_b/n;
 *   M2 = M2_a + M2_b + δ²·n_a·n_b/n). The result is as accurate as a float64 two-pass computation
 *   over the whole channel (a channel with mean 1e4 and std 1e-2 keeps its variance to ~1e-16
 *   relative), and identical for every thread count, because the units and the merge order are.
 * - Normalisation: y = (x − μ)·s + β with s = γ / sqrt(σ² + eps), per-channel constants computed
 *   once. Subtracting μ before scaling (rather than the folded x·s + (β − μ·s) that PyTorch's CPU
 *   eval path uses) avoids cancellation when |μ| ≫ σ; y is rounded once, to the output dtype.
 *
 * References: S. Ioffe, C. Szegedy, "Batch Normalization" (2015), Algorithm 1; T. F. Chan,
 * G. H. Golub, R. J. LeVeque, "Algorithms for computing the sample variance" (1983).
 */
import { roundTo, ulpDistance } from "../numeric/formats.js";
import { D_HISTOGRAM, DIFF_RECORD_SIZE, HISTOGRAM_BUCKETS, HISTOGRAM_NONFINITE, initDiffRecord, ulpBucket, initWorst, insertWorst, mergeDiffRecord, WORST_KEPT, writeDiffRecord, type DiffRule } from "./diff.js";
import { emptyBox, firstUnitOfChannel, unitBox, type UnitGrid } from "./units.js";

type Values = Float32Array | Float64Array;

/** Per-unit partial statistics: (n, mean, M2) for each channel of the unit. */
export const STATS_RECORD_SIZE = 3;

export function statsPartialsLength(grid: UnitGrid): number {
  return grid.unitCount * grid.channelChunk * STATS_RECORD_SIZE;
}

/** Computes the partial statistics of units `[firstUnit, endUnit)` into `partials`. */
export function computeStatsUnits(input: Values, grid: UnitGrid, firstUnit: number, endUnit: number, partials: Float64Array): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  // Channels-last data (small `inner`) is walked row by row, in memory order, with one accumulator
  // per channel; each channel still sums its elements in the same (o, i) order, so the result is
  // bit for bit the one of the channel-by-channel walk used when `inner` is large.
  const rowWise = inner < ROW_WISE_INNER;
  const sums = rowWise ? new Float64Array(grid.channelChunk) : null;
  const deviations = rowWise ? new Float64Array(grid.channelChunk) : null;
  const squares = rowWise ? new Float64Array(grid.channelChunk) : null;
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const { o0, o1, c0, c1, i0, i1 } = box;
    const count = (o1 - o0) * (i1 - i0);
    if (sums !== null && deviations !== null && squares !== null) {
      const width = c1 - c0;
      sums.fill(0);
      deviations.fill(0);
      squares.fill(0);
      if (inner === 1) {
        // One element per (row, channel): a contiguous run of channels per row.
        for (let o = o0; o < o1; o++) {
          const rowBase = o * channels + c0;
          for (let k = 0; k < width; k++) sums[k] += input[rowBase + k];
        }
      } else {
        for (let o = o0; o < o1; o++) {
          for (let k = 0; k < width; k++) {
            const rowBase = (o * channels + c0 + k) * inner;
            let sum = sums[k];
            for (let i = rowBase + i0, end = rowBase + i1; i < end; i++) sum += input[i];
            sums[k] = sum;
          }
        }
      }
      for (let k = 0; k < width; k++) sums[k] /= count; // now the unit means
      if (inner === 1) {
        for (let o = o0; o < o1; o++) {
          const rowBase = o * channels + c0;
          for (let k = 0; k < width; k++) {
            const deviation = input[rowBase + k] - sums[k];
            deviations[k] += deviation;
            squares[k] += deviation * deviation;
          }
        }
      } else for (let o = o0; o < o1; o++) {
        for (let k = 0; k < width; k++) {
          const rowBase = (o * channels + c0 + k) * inner;
          const mean = sums[k];
          let deviationSum = deviations[k];
          let squareSum = squares[k];
          for (let i = rowBase + i0, end = rowBase + i1; i < end; i++) {
            const deviation = input[i] - mean;
            deviationSum += deviation;
            squareSum += deviation * deviation;
          }
          deviations[k] = deviationSum;
          squares[k] = squareSum;
        }
      }
      for (let k = 0; k < width; k++) writeStats(partials, (unit * grid.channelChunk + k) * STATS_RECORD_SIZE, count, sums[k], squares[k] - (deviations[k] * deviations[k]) / count);
      continue;
    }
    for (let c = c0; c < c1; c++) {
      let sum = 0;
      for (let o = o0; o < o1; o++) {
        const rowBase = (o * channels + c) * inner;
        for (let i = rowBase + i0, end = rowBase + i1; i < end; i++) sum += input[i];
      }
      const mean = sum / count;
      let deviationSum = 0;
      let squareSum = 0;
      for (let o = o0; o < o1; o++) {
        const rowBase = (o * channels + c) * inner;
        for (let i = rowBase + i0, end = rowBase + i1; i < end; i++) {
          const deviation = input[i] - mean;
          deviationSum += deviation;
          squareSum += deviation * deviation;
        }
      }
      writeStats(partials, (unit * grid.channelChunk + (c - c0)) * STATS_RECORD_SIZE, count, mean, squareSum - (deviationSum * deviationSum) / count);
    }
  }
}

/** Below this many elements per (row, channel), units are walked row by row. */
const ROW_WISE_INNER = 16;

function writeStats(partials: Float64Array, base: number, count: number, mean: number, m2: number): void {
  partials[base] = count;
  partials[base + 1] = mean;
  // Rounding can leave a hair below zero only when every deviation is ~0.
  partials[base + 2] = m2 > 0 || m2 !== m2 ? m2 : 0;
}

/** Per-channel batch statistics: element count, mean and M2 = Σ(x − mean)². */
export interface ChannelStats {
  readonly count: Float64Array;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
}

/** Merges unit partials per channel in unit order (Chan's pairwise update). */
export function mergeChannelStats(grid: UnitGrid, partials: Float64Array): ChannelStats {
  const { channels } = grid.geometry;
  const count = new Float64Array(channels);
  const mean = new Float64Array(channels);
  const m2 = new Float64Array(channels);
  const unitsPerChannel = grid.outerBlocks * grid.innerBlocks;
  for (let c = 0; c < channels; c++) {
    const first = firstUnitOfChannel(grid, c);
    const local = c % grid.channelChunk;
    let n = 0;
    let m = 0;
    let s = 0;
    for (let unit = first; unit < first + unitsPerChannel; unit++) {
      const base = (unit * grid.channelChunk + local) * STATS_RECORD_SIZE;
      const nb = partials[base];
      if (nb === 0) continue;
      if (n === 0) {
        n = nb;
        m = partials[base + 1];
        s = partials[base + 2];
        continue;
      }
      const total = n + nb;
      const delta = partials[base + 1] - m;
      m += delta * (nb / total);
      s += partials[base + 2] + delta * delta * ((n * nb) / total);
      n = total;
    }
    count[c] = n;
    // An empty channel has no statistics: NaN, as TensorFlow reports for empty input.
    mean[c] = n === 0 ? NaN : m;
    m2[c] = n === 0 ? NaN : s;
  }
  return { count, mean, m2 };
}

/**
 * Per-channel constants of y = (x − shift)·scale + offset, laid out as three consecutive runs of
 * length C in one Float64Array (so that one shared buffer carries them to the workers).
 */
export function affineConstants(
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  epsilon: number,
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  target: Float64Array,
): Float64Array {
  const channels = mean.length;
  for (let c = 0; c < channels; c++) {
    const gamma = weight === null ? 1 : weight[c];
    target[c] = mean[c];
    target[channels + c] = gamma / Math.sqrt(variance[c] + epsilon);
    target[2 * channels + c] = bias === null ? 0 : bias[c];
  }
  return target;
}

/** Writes y for units `[firstUnit, endUnit)` into `output` (rounded to its element type). */
export function normalizeUnits(input: Values, grid: UnitGrid, constants: Float64Array, firstUnit: number, endUnit: number, output: Values): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    // Memory order (row, channel, inner): each element is independent, so the order changes nothing.
    if (inner === 1) {
      for (let o = box.o0; o < box.o1; o++) {
        const rowBase = o * channels;
        for (let c = box.c0; c < box.c1; c++) output[rowBase + c] = (input[rowBase + c] - constants[c]) * constants[channels + c] + constants[2 * channels + c];
      }
      continue;
    }
    for (let o = box.o0; o < box.o1; o++) {
      for (let c = box.c0; c < box.c1; c++) {
        const shift = constants[c];
        const scale = constants[channels + c];
        const offset = constants[2 * channels + c];
        const rowBase = (o * channels + c) * inner;
        for (let i = rowBase + box.i0, end = rowBase + box.i1; i < end; i++) output[i] = (input[i] - shift) * scale + offset;
      }
    }
  }
}

/** Merges each channel's unit diff records in unit order: the same order whatever the thread count. */
export function mergeChannelDiffs(grid: UnitGrid, records: Float64Array): Float64Array {
  const { channels } = grid.geometry;
  const merged = new Float64Array(Math.max(1, channels) * DIFF_RECORD_SIZE);
  const unitsPerChannel = grid.outerBlocks * grid.innerBlocks;
  for (let c = 0; c < channels; c++) {
    initDiffRecord(merged, c * DIFF_RECORD_SIZE);
    const first = firstUnitOfChannel(grid, c);
    for (let unit = first; unit < first + unitsPerChannel; unit++) {
      mergeDiffRecord(merged, c * DIFF_RECORD_SIZE, records, (unit * grid.channelChunk + (c % grid.channelChunk)) * DIFF_RECORD_SIZE);
    }
  }
  return merged;
}

export function diffRecordsLength(grid: UnitGrid): number {
  return grid.unitCount * grid.channelChunk * DIFF_RECORD_SIZE;
}

export function worstListsLength(grid: UnitGrid): number {
  return grid.unitCount * WORST_KEPT * 2;
}

const scratch = new Float32Array(2);

const scratchBits = new Int32Array(scratch.buffer);

/**
 * The fused pass of `compare`: computes y = (x − shift)·scale + offset in float64 and compares it
 * with the reference element by element, without materialising y. One diff record per channel per
 * unit, one list of the worst elements per unit. (With shift 0, scale 1, offset 0, y = x exactly:
 * that is how plain tensor comparisons run through the same loop.)
 *
 * Rule (numpy/torch style, asymmetric: the reference is `expected`):
 *   |y − expected| ≤ atol + rtol·|expected|, in float64.
 *   NaN matches NaN only with `equalNan`; an infinity matches only the same infinity.
 * Statistics (max absolute/relative error, max ulp distance, the tolerances that would have passed)
 * are taken over pairs where both values are finite; non-finite disagreements are counted apart and
 * make every "would have passed" tolerance infinite. Accumulators live in locals and are written
 * to the record once per channel and unit: this loop is the hot path of `compare`.
 */
export function compareUnits(
  input: Values,
  reference: Values,
  grid: UnitGrid,
  constants: Float64Array,
  rule: DiffRule,
  firstUnit: number,
  endUnit: number,
  records: Float64Array,
  worst: Float64Array,
): void {
  const { channels, inner } = grid.geometry;
  const { atol, rtol, equalNan, ulpDtype } = rule;
  const float32Ulps = ulpDtype === "float32";
  const lastWorst = 2 * (WORST_KEPT - 1);
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const worstBase = unit * WORST_KEPT * 2;
    initWorst(worst, worstBase);
    // The smallest excess still on the worst list, kept in a local: most elements are not candidates.
    let worstThreshold = -Infinity;
    for (let c = box.c0; c < box.c1; c++) {
      const shift = constants[c];
      const scale = constants[channels + c];
      const offset = constants[2 * channels + c];
      let count = 0;
      let mismatches = 0;
      let nonFinite = 0;
      let finitePairs = 0;
      let sumAbs = 0;
      let maxAbs = 0;
      let maxAbsIndex = -1;
      let maxRel = 0;
      let maxRelIndex = -1;
      let maxUlp = 0;
      let maxUlpIndex = -1;
      let requiredAtol = 0;
      let requiredRtol = 0;
      const base = (unit * grid.channelChunk + (c - box.c0)) * DIFF_RECORD_SIZE;
      records.fill(0, base + D_HISTOGRAM, base + D_HISTOGRAM + HISTOGRAM_BUCKETS);
      for (let o = box.o0; o < box.o1; o++) {
        const rowBase = (o * channels + c) * inner;
        for (let i = rowBase + box.i0, end = rowBase + box.i1; i < end; i++) {
          const actual = (input[i] - shift) * scale + offset;
          const expected = reference[i];
          count++;
          let excess: number;
          if (actual - actual === 0 && expected - expected === 0) {
            // Both finite.
            const absError = Math.abs(actual - expected);
            const magnitude = Math.abs(expected);
            const allowed = atol + rtol * magnitude;
            excess = absError - allowed;
            finitePairs++;
            sumAbs += absError;
            if (absError > 0) {
              if (absError > maxAbs) {
                maxAbs = absError;
                maxAbsIndex = i;
              }
              // A zero reference with a non-zero error has infinite relative error (as in numpy).
              const relError = absError / magnitude;
              if (relError > maxRel) {
                maxRel = relError;
                maxRelIndex = i;
              }
              if (float32Ulps) {
                // Many pairs round to the same float32: settle those without reading bit patterns.
                const rounded = Math.fround(actual);
                if (rounded !== expected) {
                  scratch[0] = rounded;
                  scratch[1] = expected;
                  const a = scratchBits[0];
                  const b = scratchBits[1];
                  const ulps = Math.abs((a < 0 ? -(a & 0x7fffffff) : a) - (b < 0 ? -(b & 0x7fffffff) : b));
                  records[base + D_HISTOGRAM + ulpBucket(ulps)]++;
                  if (ulps > maxUlp) {
                    maxUlp = ulps;
                    maxUlpIndex = i;
                  }
                } else {
                  records[base + D_HISTOGRAM]++;
                }
              } else {
                const ulps = ulpDistance(ulpDtype, actual, expected);
                records[base + D_HISTOGRAM + ulpBucket(ulps)]++;
                if (ulps > maxUlp) {
                  maxUlp = ulps;
                  maxUlpIndex = i;
                }
              }
              const neededAtol = absError - rtol * magnitude;
              if (neededAtol > requiredAtol) requiredAtol = neededAtol;
              if (absError > atol) {
                const neededRtol = magnitude === 0 ? Infinity : (absError - atol) / magnitude;
                if (neededRtol > requiredRtol) requiredRtol = neededRtol;
              }
              if (excess > 0) mismatches++;
            } else {
              records[base + D_HISTOGRAM]++;
            }
          } else if (actual === expected || (equalNan && actual !== actual && expected !== expected) || (expected - expected !== 0 && expected === expected && roundTo(ulpDtype, actual) === expected)) {
            // Also a match: a finite exact value that overflows to the reference's infinity in the
            // reference's own precision (a float16 result above 65504 is +Inf in float16).
            excess = -Infinity; // the same infinity, or NaN with NaN under equalNan
            records[base + D_HISTOGRAM]++;
          } else {
            excess = Infinity;
            mismatches++;
            nonFinite++;
            records[base + D_HISTOGRAM + HISTOGRAM_NONFINITE]++;
          }
          if (excess > worstThreshold) {
            insertWorst(worst, worstBase, excess, i);
            worstThreshold = worst[worstBase + lastWorst];
          }
        }
      }
      writeDiffRecord(records, base, {
        count,
        mismatches,
        nonFiniteMismatches: nonFinite,
        finitePairs,
        sumAbs,
        maxAbs,
        maxAbsIndex,
        maxRel,
        maxRelIndex,
        maxUlp,
        maxUlpIndex,
        requiredAtol: nonFinite > 0 ? Infinity : requiredAtol,
        requiredRtol: nonFinite > 0 ? Infinity : requiredRtol,
      });
    }
  }
}
