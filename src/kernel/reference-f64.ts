/**
 * The test oracle: textbook BatchNorm, float64, two passes over each whole channel, no units, no
 * threads, no cleverness. The kernel must agree with it to a few float64 ulps.
 */
import { geometryOf } from "../core/layout.js";

export interface ReferenceResult {
  readonly output: Float64Array;
  readonly mean: Float64Array;
  /** Biased batch variance. */
  readonly variance: Float64Array;
}

export function referenceBatchNormF64(
  input: ArrayLike<number>,
  shape: readonly number[],
  channelAxis: number,
  epsilon: number,
  weight: ArrayLike<number> | null = null,
  bias: ArrayLike<number> | null = null,
  statistics: { mean: ArrayLike<number>; variance: ArrayLike<number> } | null = null,
): ReferenceResult {
  const { outer, channels, inner } = geometryOf(shape, channelAxis);
  const n = outer * inner;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  const output = new Float64Array(input.length);
  for (let c = 0; c < channels; c++) {
    if (statistics !== null) {
      mean[c] = statistics.mean[c];
      variance[c] = statistics.variance[c];
    } else {
      let sum = 0;
      for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) sum += input[(o * channels + c) * inner + i];
      mean[c] = sum / n;
      let squares = 0;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const d = input[(o * channels + c) * inner + i] - mean[c];
          squares += d * d;
        }
      }
      variance[c] = squares / n;
    }
    const gamma = weight === null ? 1 : weight[c];
    const beta = bias === null ? 0 : bias[c];
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const index = (o * channels + c) * inner + i;
        output[index] = ((input[index] - mean[c]) / Math.sqrt(variance[c] + epsilon)) * gamma + beta;
      }
    }
  }
  return { output, mean, variance };
}
