/**
 * BatchNorm's backward pass: the gradients of sum(y · dy) with respect to x, γ and β.
 *
 * With x̂ = (x − μ)·r, r = 1/√(σ² + ε), k = γ·r and n values per channel:
 *   batch statistics (train):   dx = k·(dy − mean(dy) − x̂·mean(dy·x̂))
 *   given statistics (eval):    dx = k·dy
 *   dγ = Σ dy·x̂,  dβ = Σ dy.
 * Two passes over the data, both over the same fixed units as the forward kernel (so results do not
 * depend on the thread count):
 * - `gradSumsUnits`: per unit and channel, in float64, Σdy, Σ|dy|, Σ|dy·(x − μ)|, Σdy·(x − μ), max|dy| and
 *   max|x − μ| (the last four feed the error model); `mergeGradSums` merges them in unit order.
 * - `gradInputUnits`: dx = ((x − μ)·b + d) + a·dy with per-channel constants (see `gradInputConstants`),
 *   computed in float64 and written in the output's precision.
 * Both have SIMD twins (bn-kernel.wat `gradsums_cols` and `gradinput_cols`, via wasm-adapters.ts) that
 * give the same bits.
 */
import { emptyBox, firstUnitOfChannel, unitBox, type UnitGrid } from "./units.js";
import {
  GC_CENTRED_SCALE,
  GC_DY_SCALE,
  GC_MEAN,
  GC_OFFSET,
  GRAD_RECORD_SIZE,
  G_MAX_ABS_CENTRED,
  G_MAX_ABS_DY,
  G_SUM_ABS_DY,
  G_SUM_ABS_DY_CENTRED,
  G_SUM_DY,
  G_SUM_DY_CENTRED,
} from "./abi.js";

type Values = Float32Array | Float64Array;

export function gradSumsLength(grid: UnitGrid): number {
  return grid.unitCount * grid.channelChunk * GRAD_RECORD_SIZE;
}

/** Lanes of each sum: value j of a run (below the run's length rounded down to 8) goes to lane j mod 8. */
const LANES = 8;

/** ((L0 + L1) + (L2 + L3)) + ((L4 + L5) + (L6 + L7)), then the tail: the SIMD kernel's `$combine` order. */
function combineLanes(lanes: Float64Array, base: number, tail: number): number {
  return (
    lanes[base] +
    lanes[base + 1] +
    (lanes[base + 2] + lanes[base + 3]) +
    (lanes[base + 4] + lanes[base + 5] + (lanes[base + 6] + lanes[base + 7])) +
    tail
  );
}

/**
 * Per-channel sums of units `[firstUnit, endUnit)`; `mean` holds μ per channel (the statistics the
 * forward pass normalised with). Each sum runs in eight lanes over the channel's runs in the unit
 * (a run: one row's values of the channel), which is the SIMD kernel's order (bn-kernel.wat,
 * `gradsums_cols`, driven by wasm-adapters.ts): both give the same bits.
 */
export function gradSumsUnits(
  input: Values,
  gradOutput: Values,
  grid: UnitGrid,
  mean: Float64Array,
  firstUnit: number,
  endUnit: number,
  partials: Float64Array,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  // Four sums × eight lanes: Σdy, Σ|dy|, Σ|dy·e|, Σdy·e.
  const lanes = new Float64Array(4 * LANES);
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const len = box.i1 - box.i0;
    const len8 = len - (len % LANES);
    for (let c = box.c0; c < box.c1; c++) {
      const mu = mean[c];
      lanes.fill(0);
      let tailDy = 0;
      let tailAbsDy = 0;
      let tailAbsProduct = 0;
      let tailProduct = 0;
      let maxAbsDy = 0;
      let maxAbsCentred = 0;
      for (let o = box.o0; o < box.o1; o++) {
        const start = (o * channels + c) * inner + box.i0;
        for (let j = 0; j < len; j++) {
          const dy = gradOutput[start + j];
          const centred = input[start + j] - mu;
          const product = dy * centred;
          if (j < len8) {
            const lane = j % LANES;
            lanes[lane] += dy;
            lanes[LANES + lane] += Math.abs(dy);
            lanes[2 * LANES + lane] += Math.abs(product);
            lanes[3 * LANES + lane] += product;
          } else {
            tailDy += dy;
            tailAbsDy += Math.abs(dy);
            tailAbsProduct += Math.abs(product);
            tailProduct += product;
          }
          if (Math.abs(dy) > maxAbsDy) maxAbsDy = Math.abs(dy);
          if (Math.abs(centred) > maxAbsCentred) maxAbsCentred = Math.abs(centred);
        }
      }
      const base = (unit * grid.channelChunk + (c - box.c0)) * GRAD_RECORD_SIZE;
      partials[base + G_SUM_DY] = combineLanes(lanes, 0, tailDy);
      partials[base + G_SUM_ABS_DY] = combineLanes(lanes, LANES, tailAbsDy);
      partials[base + G_SUM_ABS_DY_CENTRED] = combineLanes(lanes, 2 * LANES, tailAbsProduct);
      partials[base + G_SUM_DY_CENTRED] = combineLanes(lanes, 3 * LANES, tailProduct);
      partials[base + G_MAX_ABS_DY] = maxAbsDy;
      partials[base + G_MAX_ABS_CENTRED] = maxAbsCentred;
    }
  }
}

/** Each channel's record (GRAD_RECORD_SIZE values), its units merged in unit order. */
export function mergeGradSums(grid: UnitGrid, partials: Float64Array): Float64Array {
  const { channels } = grid.geometry;
  const merged = new Float64Array(channels * GRAD_RECORD_SIZE);
  const unitsPerChannel = grid.outerBlocks * grid.innerBlocks;
  for (let c = 0; c < channels; c++) {
    const target = c * GRAD_RECORD_SIZE;
    const first = firstUnitOfChannel(grid, c);
    for (let unit = first; unit < first + unitsPerChannel; unit++) {
      const source = (unit * grid.channelChunk + (c % grid.channelChunk)) * GRAD_RECORD_SIZE;
      for (const sum of [G_SUM_DY, G_SUM_ABS_DY, G_SUM_ABS_DY_CENTRED, G_SUM_DY_CENTRED])
        merged[target + sum] += partials[source + sum];
      for (const max of [G_MAX_ABS_DY, G_MAX_ABS_CENTRED])
        merged[target + max] = Math.max(merged[target + max], partials[source + max]);
    }
  }
  return merged;
}

/**
 * The constants of dx = ((x − μ)·b + d) + a·dy per channel, from the merged sums:
 * batch statistics: a = k, b = −k·r²·mean(dy·(x − μ)), d = −k·mean(dy); given statistics: a = k.
 */
export function gradInputConstants(
  sums: Float64Array,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  epsilon: number,
  weight: ArrayLike<number> | null,
  count: number,
  batchStatistics: boolean,
  target: Float64Array,
): Float64Array {
  const channels = mean.length;
  for (let c = 0; c < channels; c++) {
    const r = 1 / Math.sqrt(variance[c] + epsilon);
    const k = (weight === null ? 1 : weight[c]) * r;
    target[GC_MEAN * channels + c] = mean[c];
    target[GC_DY_SCALE * channels + c] = k;
    target[GC_CENTRED_SCALE * channels + c] = batchStatistics
      ? -k * r * r * (sums[c * GRAD_RECORD_SIZE + G_SUM_DY_CENTRED] / count)
      : 0;
    target[GC_OFFSET * channels + c] = batchStatistics ? -k * (sums[c * GRAD_RECORD_SIZE + G_SUM_DY] / count) : 0;
  }
  return target;
}

/**
 * Writes dx = ((x − μ)·b + d) + a·dy for units `[firstUnit, endUnit)` (float64 arithmetic, rounded to
 * `output`'s type): the order the fused compare (compare-units.ts, with its addend) uses.
 */
export function gradInputUnits(
  input: Values,
  gradOutput: Values,
  grid: UnitGrid,
  constants: Float64Array,
  firstUnit: number,
  endUnit: number,
  output: Values,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    for (let o = box.o0; o < box.o1; o++) {
      for (let c = box.c0; c < box.c1; c++) {
        const mu = constants[GC_MEAN * channels + c];
        const a = constants[GC_DY_SCALE * channels + c];
        const b = constants[GC_CENTRED_SCALE * channels + c];
        const d = constants[GC_OFFSET * channels + c];
        const rowBase = (o * channels + c) * inner;
        for (let i = rowBase + box.i0, end = rowBase + box.i1; i < end; i++)
          output[i] = (input[i] - mu) * b + d + a * gradOutput[i];
      }
    }
  }
}
