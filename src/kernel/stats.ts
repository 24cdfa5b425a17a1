/**
 * Per-channel batch statistics, unit by unit, and their merge (see batch-norm.ts for the method).
 */
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
      // Four interleaved accumulators: one chain of dependent additions would cap the loop at one
      // element per add latency; four let the CPU overlap them. Their order is fixed, so the result
      // still depends on the unit alone.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let o = o0; o < o1; o++) {
        const rowBase = (o * channels + c) * inner;
        const end = rowBase + i1;
        let i = rowBase + i0;
        for (; i + 3 < end; i += 4) {
          s0 += input[i];
          s1 += input[i + 1];
          s2 += input[i + 2];
          s3 += input[i + 3];
        }
        for (; i < end; i++) s0 += input[i];
      }
      const mean = (s0 + s1 + (s2 + s3)) / count;
      let d0 = 0;
      let d1 = 0;
      let q0 = 0;
      let q1 = 0;
      for (let o = o0; o < o1; o++) {
        const rowBase = (o * channels + c) * inner;
        const end = rowBase + i1;
        let i = rowBase + i0;
        for (; i + 1 < end; i += 2) {
          const a = input[i] - mean;
          const b = input[i + 1] - mean;
          d0 += a;
          d1 += b;
          q0 += a * a;
          q1 += b * b;
        }
        for (; i < end; i++) {
          const a = input[i] - mean;
          d0 += a;
          q0 += a * a;
        }
      }
      const deviationSum = d0 + d1;
      writeStats(partials, (unit * grid.channelChunk + (c - c0)) * STATS_RECORD_SIZE, count, mean, q0 + q1 - (deviationSum * deviationSum) / count);
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
