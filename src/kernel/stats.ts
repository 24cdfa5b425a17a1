/**
 * Per-channel batch statistics, unit by unit, and their merge (see batch-norm.ts for the method).
 */
import { emptyBox, firstUnitOfChannel, unitBox, type UnitGrid } from "./units.js";
import type { Geometry } from "../core/layout.js";
import { STATS_RECORD_SIZE, S_COUNT, S_M2, S_MEAN } from "./abi.js";

type Values = Float32Array | Float64Array;

/** Per-unit partial statistics: (n, mean, M2) for each channel of the unit (the SIMD kernel's layout too). */

export function statsPartialsLength(grid: UnitGrid): number {
  return grid.unitCount * grid.channelChunk * STATS_RECORD_SIZE;
}

/**
 * Computes the partial statistics of units `[firstUnit, endUnit)` into `partials`. The SIMD kernel's
 * twin (wasm-adapters.ts, `statsUnitsSimd`) gives the same bits where `simdRunsStats` allows it.
 */
export function computeStatsUnits(
  input: Values,
  grid: UnitGrid,
  firstUnit: number,
  endUnit: number,
  partials: Float64Array,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  // Channels-last data (small `inner`) is walked row by row, in memory order, with one accumulator
  // per channel (in the same (o, i) order within a channel whatever the thread count).
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
      } else
        for (let o = o0; o < o1; o++) {
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
      for (let k = 0; k < width; k++)
        writeStats(
          partials,
          (unit * grid.channelChunk + k) * STATS_RECORD_SIZE,
          count,
          sums[k],
          squares[k] - (deviations[k] * deviations[k]) / count,
        );
      continue;
    }
    for (let c = c0; c < c1; c++) {
      const rowStride = channels * inner;
      const firstRow = (o0 * channels + c) * inner + i0;
      const length = i1 - i0;
      const mean = laneSum(input, firstRow, o1 - o0, rowStride, length, 0, false) / count;
      const deviationSum = laneSum(input, firstRow, o1 - o0, rowStride, length, mean, false);
      const squareSum = laneSum(input, firstRow, o1 - o0, rowStride, length, mean, true);
      writeStats(
        partials,
        (unit * grid.channelChunk + (c - c0)) * STATS_RECORD_SIZE,
        count,
        mean,
        squareSum - (deviationSum * deviationSum) / count,
      );
    }
  }
}

/**
 * Σ(x − shift) (or Σ(x − shift)² with `square`) over `rows` runs of `length` values `rowStride`
 * apart, in eight interleaved lanes: one chain of dependent additions would cap the loop at one
 * value per add latency, eight let the CPU overlap them. Value j of a run (j below `length` rounded
 * down to 8) goes to lane j mod 8, the rest to a tail sum in order; the lanes are combined as
 * ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) + tail. This order is the SIMD kernel's
 * (bn-kernel.wat: four float64x2 lanes), so both give the same bits; it depends on the unit alone,
 * never on the thread count. (The kernel sums values and deviations in one loop; the sums are the
 * same as two separate ones.)
 */
function laneSum(
  input: Values,
  firstRow: number,
  rows: number,
  rowStride: number,
  length: number,
  shift: number,
  square: boolean,
): number {
  let l0 = 0;
  let l1 = 0;
  let l2 = 0;
  let l3 = 0;
  let l4 = 0;
  let l5 = 0;
  let l6 = 0;
  let l7 = 0;
  let tail = 0;
  const bodyLength = length - (length % 8);
  for (let row = 0, rowBase = firstRow; row < rows; row++, rowBase += rowStride) {
    const bodyEnd = rowBase + bodyLength;
    const end = rowBase + length;
    let i = rowBase;
    if (square) {
      for (; i < bodyEnd; i += 8) {
        const d0 = input[i] - shift;
        const d1 = input[i + 1] - shift;
        const d2 = input[i + 2] - shift;
        const d3 = input[i + 3] - shift;
        const d4 = input[i + 4] - shift;
        const d5 = input[i + 5] - shift;
        const d6 = input[i + 6] - shift;
        const d7 = input[i + 7] - shift;
        l0 += d0 * d0;
        l1 += d1 * d1;
        l2 += d2 * d2;
        l3 += d3 * d3;
        l4 += d4 * d4;
        l5 += d5 * d5;
        l6 += d6 * d6;
        l7 += d7 * d7;
      }
      for (; i < end; i++) {
        const d = input[i] - shift;
        tail += d * d;
      }
    } else {
      for (; i < bodyEnd; i += 8) {
        l0 += input[i] - shift;
        l1 += input[i + 1] - shift;
        l2 += input[i + 2] - shift;
        l3 += input[i + 3] - shift;
        l4 += input[i + 4] - shift;
        l5 += input[i + 5] - shift;
        l6 += input[i + 6] - shift;
        l7 += input[i + 7] - shift;
      }
      for (; i < end; i++) tail += input[i] - shift;
    }
  }
  return l0 + l1 + (l2 + l3) + (l4 + l5 + (l6 + l7)) + tail;
}

/** Below this many elements per (row, channel), units are walked row by row. */
const ROW_WISE_INNER = 16;

/**
 * Whether the SIMD kernel has a statistics loop for this geometry: channels-first runs (inner ≥ 16)
 * and one value per row and channel (inner = 1). Short runs in between stay with JavaScript.
 */
export function simdRunsStats(geometry: Geometry): boolean {
  return geometry.inner === 1 || geometry.inner >= ROW_WISE_INNER;
}

function writeStats(partials: Float64Array, base: number, count: number, mean: number, m2: number): void {
  partials[base + S_COUNT] = count;
  partials[base + S_MEAN] = mean;
  // Rounding can leave a hair below zero only when every deviation is ~0.
  partials[base + S_M2] = m2 > 0 || m2 !== m2 ? m2 : 0;
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
