/** The fused BN-and-compare pass and the merge of its records (see batch-norm.ts for the method). */
import { roundTo, ulpDistance } from "../core/formats.js";
import {
  initDiffRecord,
  ulpBucket,
  initWorst,
  insertWorst,
  mergeDiffRecords,
  writeDiffRecord,
  type DiffRule,
} from "./diff.js";
import { DIFF_RECORD_SIZE, HISTOGRAM_BUCKETS, HISTOGRAM_NONFINITE, WORST_KEPT } from "./abi.js";
import { emptyBox, firstUnitOfChannel, unitBox, type UnitGrid } from "./units.js";
import {
  C_BOUND_CONSTANT,
  C_BOUND_PER_CENTRED,
  C_BOUND_PER_INPUT,
  C_BOUND_PER_OUTPUT,
  C_OFFSET,
  C_SCALE,
  C_SHIFT,
} from "./abi.js";

type Values = Float32Array | Float64Array;

/**
 * The arrays of a compare pass (JavaScript and SIMD alike): what it reads — the input, the
 * reference, the per-channel constants and, for dx compared where it is computed, the addend dy
 * with its per-channel scale — and what it fills: per-unit records, worst lists and ulp histograms.
 */
export interface CompareArrays<V extends Values = Values> {
  readonly input: V;
  readonly reference: V;
  readonly constants: Float64Array;
  readonly records: Float64Array;
  readonly worst: Float64Array;
  readonly histograms: Float64Array;
  readonly addend?: V | null;
  readonly addendScale?: Float64Array | null;
}

/** Compares every unit in the calling thread (a sample, or a diff of two tensors), into new output arrays. */
export function compareInThread(
  input: Values,
  reference: Values,
  constants: Float64Array,
  grid: UnitGrid,
  rule: DiffRule,
): { records: Float64Array; worst: Float64Array; histograms: Float64Array } {
  const outputs = {
    records: new Float64Array(diffRecordsLength(grid)),
    worst: new Float64Array(Math.max(1, worstListsLength(grid))),
    histograms: new Float64Array(histogramsLength(grid)),
  };
  compareUnits({ input, reference, constants, ...outputs }, grid, rule, 0, grid.unitCount);
  return outputs;
}

/** Merges each channel's unit diff records in unit order: the same order whatever the thread count. */
export function mergeChannelDiffs(grid: UnitGrid, records: Float64Array): Float64Array {
  const { channels } = grid.geometry;
  const merged = new Float64Array(Math.max(1, channels) * DIFF_RECORD_SIZE);
  const unitsPerChannel = grid.outerBlocks * grid.innerBlocks;
  for (let c = 0; c < channels; c++) {
    initDiffRecord(merged, c * DIFF_RECORD_SIZE);
    // The channel's record in each of its units, one unit's records (channelChunk of them) apart.
    const first = (firstUnitOfChannel(grid, c) * grid.channelChunk + (c % grid.channelChunk)) * DIFF_RECORD_SIZE;
    mergeDiffRecords(
      merged,
      c * DIFF_RECORD_SIZE,
      records,
      first,
      unitsPerChannel,
      grid.channelChunk * DIFF_RECORD_SIZE,
    );
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
 * that is how plain tensor comparisons run through the same loop.) With an `addend` tensor, y gains
 * `addendScale[c]·addend`: BatchNorm's input gradient dx = ((x − μ)·b + d) + a·dy is compared this way
 * without being stored (the SIMD kernel's `compare_cols` takes the same addend).
 *
 * `constants` holds seven runs of `channels` values: shift, scale, offset, then the error model's
 * coefficients b0..b3 (src/check/error-model.ts), so that an element's bound is
 *   B = ((b0 + b1·|x|) + b2·|y − offset|) + b3·|y|   (evaluated in this order, no fused multiply-add).
 *
 * Rule (numpy/torch style, asymmetric: the reference is `expected`):
 *   |y − expected| ≤ max(atol + rtol·|expected|, B), in float64. B is evaluated only for elements
 *   outside the flat tolerance (nearly none in a well-conditioned tensor): those are counted as
 *   flat mismatches, and the largest |y − expected|/B among them is kept with its index.
 *   NaN matches NaN only with `equalNan`; an infinity matches only the same infinity.
 * Statistics (max absolute/relative error, max ulp distance, the tolerances that would have passed)
 * are taken over pairs where both values are finite; non-finite disagreements are counted apart and
 * make every "would have passed" tolerance infinite. Accumulators live in locals and are written
 * to the record once per channel and unit: this loop is the hot path of `compare`.
 *
 * Every statistic is order-free (counts, maxima whose ties go to the smallest index, the histogram,
 * the top-8 worst list) except the sum of absolute errors, which is summed in four lanes: value j of
 * a run (j below the run's length rounded down to 4) to lane j mod 4, the rest to a tail sum,
 * combined as (l0 + l1) + (l2 + l3) + tail. A run is a row's values of the channel, or for
 * channels-last data (one value per row) the channel's whole column in the unit. That is the SIMD kernel's order
 * (bn-kernel.wat, `compare_cols`, driven by wasm-adapters.ts), which runs float32-against-float32 comparisons
 * counted in float32 ulps and gives the same bits.
 */
export function compareUnits(
  arrays: CompareArrays,
  grid: UnitGrid,
  rule: DiffRule,
  firstUnit: number,
  endUnit: number,
): void {
  const { input, reference, constants, records, worst, histograms, addend = null, addendScale = null } = arrays;
  const { channels, inner } = grid.geometry;
  const { atol, rtol, equalNan, ulpDtype } = rule;
  // float32 distances read the reference's bit patterns through an integer view (no copy).
  const float32Ulps = ulpDtype === "float32" && reference instanceof Float32Array;
  const sumLanes = new Float64Array(4);
  // One value per row and channel: the channel's column in the unit is one run (see above).
  const columnRun = inner === 1;
  const referenceBits = float32Ulps ? new Int32Array(reference.buffer, reference.byteOffset, reference.length) : null;
  const lastWorst = 2 * (WORST_KEPT - 1);
  // Counted in a local array (not in the shared memory) and copied once per unit.
  const histogram = new Float64Array(HISTOGRAM_BUCKETS);
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const worstBase = unit * WORST_KEPT * 2;
    initWorst(worst, worstBase);
    histogram.fill(0);
    // The smallest excess still on the worst list, kept in a local: most elements are not candidates.
    let worstThreshold = -Infinity;
    const bodyLength = (columnRun ? box.o1 - box.o0 : box.i1 - box.i0) & ~3;
    for (let c = box.c0; c < box.c1; c++) {
      const shift = constants[C_SHIFT * channels + c];
      const scale = constants[C_SCALE * channels + c];
      const offset = constants[C_OFFSET * channels + c];
      const boundConstant = constants[C_BOUND_CONSTANT * channels + c];
      const boundPerInput = constants[C_BOUND_PER_INPUT * channels + c];
      const boundPerCentred = constants[C_BOUND_PER_CENTRED * channels + c];
      const boundPerOutput = constants[C_BOUND_PER_OUTPUT * channels + c];
      const addendFactor = addendScale === null ? 0 : addendScale[c];
      let count = 0;
      let mismatches = 0;
      let flatMismatches = 0;
      let maxBoundRatio = 0;
      let maxBoundRatioIndex = -1;
      let nonFinite = 0;
      let finitePairs = 0;
      let tailSum = 0;
      sumLanes.fill(0);
      let maxAbs = 0;
      let maxAbsIndex = -1;
      let maxRel = 0;
      let maxRelIndex = -1;
      let maxUlp = 0;
      let maxUlpIndex = -1;
      let requiredAtol = 0;
      let requiredRtol = 0;
      const base = (unit * grid.channelChunk + (c - box.c0)) * DIFF_RECORD_SIZE;
      for (let o = box.o0; o < box.o1; o++) {
        const runStart = (o * channels + c) * inner + box.i0;
        for (let i = runStart, end = runStart + box.i1 - box.i0; i < end; i++) {
          const position = columnRun ? o - box.o0 : i - runStart;
          const x = input[i];
          const centred = (x - shift) * scale;
          const actual = addend === null ? centred + offset : centred + offset + addendFactor * addend[i];
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
            if (excess > 0) {
              // Outside the flat tolerance: the error model's bound may still allow it.
              flatMismatches++;
              const bound =
                boundConstant +
                boundPerInput * Math.abs(x) +
                boundPerCentred * Math.abs(centred) +
                boundPerOutput * Math.abs(actual);
              const boundExcess = absError - bound;
              if (boundExcess < excess) excess = boundExcess;
              const ratio = absError / bound;
              if (ratio > maxBoundRatio) {
                maxBoundRatio = ratio;
                maxBoundRatioIndex = i;
              }
            }
            if (position < bodyLength) sumLanes[position & 3] += absError;
            else tailSum += absError;
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
                // Sign-magnitude bit patterns to ordinals without branches (random signs would
                // defeat branch prediction): ord = ((bits & 0x7fffffff) ^ m) − m, m = bits >> 31.
                scratch[0] = actual; // rounds to float32
                const a = scratchBits[0];
                const b = referenceBits![i];
                const ma = a >> 31;
                const mb = b >> 31;
                const ulps = Math.abs(((a & 0x7fffffff) ^ ma) - ma - (((b & 0x7fffffff) ^ mb) - mb));
                histogram[ulpBucket(ulps)]++;
                if (ulps > maxUlp) {
                  maxUlp = ulps;
                  maxUlpIndex = i;
                }
              } else {
                const ulps = ulpDistance(ulpDtype, actual, expected);
                histogram[ulpBucket(ulps)]++;
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
              histogram[0]++;
            }
          } else if (
            actual === expected ||
            (equalNan && actual !== actual && expected !== expected) ||
            (expected - expected !== 0 && expected === expected && roundTo(ulpDtype, actual) === expected)
          ) {
            // Also a match: a finite exact value that overflows to the reference's infinity in the
            // reference's own precision (a float16 result above 65504 is +Inf in float16).
            excess = -Infinity; // the same infinity, or NaN with NaN under equalNan
            histogram[0]++;
          } else {
            excess = Infinity;
            mismatches++;
            flatMismatches++;
            nonFinite++;
            histogram[HISTOGRAM_NONFINITE]++;
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
        flatMismatches,
        maxBoundRatio,
        maxBoundRatioIndex,
        nonFiniteMismatches: nonFinite,
        finitePairs,
        sumAbs: sumLanes[0] + sumLanes[1] + (sumLanes[2] + sumLanes[3]) + tailSum,
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
    for (let bucket = 0; bucket < HISTOGRAM_BUCKETS; bucket++)
      histograms[unit * HISTOGRAM_BUCKETS + bucket] = histogram[bucket];
  }
}

/** Length of the per-unit histograms array of a compare pass. */
export function histogramsLength(grid: UnitGrid): number {
  return Math.max(1, grid.unitCount * HISTOGRAM_BUCKETS);
}
