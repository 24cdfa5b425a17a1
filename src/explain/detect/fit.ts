/**
 * Quantities solved for from the data rather than guessed: the eps that explains an output, and the
 * momentum and variance estimator that explain updated running statistics.
 */
import { ESTIMATOR_FORMULAS, knownEpsilons, type VarianceEstimator } from "../../conventions/alternatives.js";

/** Values people actually use for eps: a fitted value within its uncertainty snaps to one of them. */
const COMMON_EPSILONS = knownEpsilons();

export interface FittedEpsilon {
  readonly value: number;
  /** Per channel, before aggregation. */
  readonly perChannel: readonly number[];
  /** True when the channels agree (relative spread within the uncertainty). */
  readonly consistent: boolean;
}

/**
 * Per channel, the least-squares slope s of (y − β)/γ against (x − μ) estimates 1/sqrt(σ² + eps),
 * so eps_c = 1/s² − σ². The channels agree when their spread is small relative to σ² + eps (eps is
 * ill-conditioned when σ² ≫ eps, so that is the scale of its uncertainty).
 */
export function fitEpsilon(
  input: ArrayLike<number>,
  reference: ArrayLike<number>,
  geometry: { outer: number; channels: number; inner: number },
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  limit: number,
): FittedEpsilon | null {
  const { outer, channels, inner } = geometry;
  const perChannel: number[] = [];
  const scales: number[] = [];
  for (let c = 0; c < channels; c++) {
    const gamma = weight === null ? 1 : weight[c];
    const beta = bias === null ? 0 : bias[c];
    let xy = 0;
    let xx = 0;
    let seen = 0;
    for (let o = 0; o < outer && seen < limit; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner && seen < limit; i++, seen++) {
        const dx = input[base + i] - mean[c];
        const dy = (reference[base + i] - beta) / gamma;
        if (Number.isFinite(dx) && Number.isFinite(dy)) {
          xy += dx * dy;
          xx += dx * dx;
        }
      }
    }
    if (!(xx > 0) || !(xy > 0)) continue;
    const slope = xy / xx;
    perChannel.push(1 / (slope * slope) - variance[c]);
    scales.push(1 / (slope * slope)); // σ² + eps, the scale of eps's uncertainty
  }
  if (perChannel.length === 0) return null;
  const sorted = [...perChannel].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const spread = sorted[sorted.length - 1] - sorted[0];
  const scale = scales.reduce((a, b) => Math.max(a, b), -Infinity);
  const consistent = median > 0 && spread <= Math.max(0.05 * median, 1e-4 * scale);
  if (!consistent) return { value: median, perChannel, consistent: false };
  // Snap to a common value when it lies within the uncertainty, else keep three significant digits.
  const tolerance = Math.max(0.02 * median, 2e-5 * scale);
  const snapped = COMMON_EPSILONS.filter((e) => Math.abs(e - median) <= tolerance).sort(
    (a, b) => Math.abs(a - median) - Math.abs(b - median),
  )[0];
  return { value: snapped ?? Number(median.toPrecision(3)), perChannel, consistent: true };
}

export interface RunningStatsFit {
  /** Weight of the new batch statistic: torch momentum, or 1 − momentum for Keras/ONNX/Flax. */
  readonly batchWeight: number | null;
  /** Which batch variance the running variance took, when one explains it better. */
  readonly varianceEstimator: VarianceEstimator | null;
  readonly description: string;
}

/**
 * Solves running_new = (1 − w)·running_old + w·batch for w from the means, then asks which batch
 * variance (÷N or ÷(N−1)) the variances need for the same w.
 */
export function fitRunningStats(
  before: { mean: ArrayLike<number>; variance: ArrayLike<number> },
  after: { mean: ArrayLike<number>; variance: ArrayLike<number> },
  batch: { mean: ArrayLike<number>; variance: ArrayLike<number>; count: number },
): RunningStatsFit {
  const weights: number[] = [];
  for (let c = 0; c < batch.mean.length; c++) {
    const denominator = batch.mean[c] - before.mean[c];
    if (Math.abs(denominator) > 1e-6 * (Math.abs(batch.mean[c]) + 1e-12))
      weights.push((after.mean[c] - before.mean[c]) / denominator);
  }
  if (weights.length === 0)
    return {
      batchWeight: null,
      varianceEstimator: null,
      description: "the running means do not move: momentum cannot be identified",
    };
  const w = [...weights].sort((a, b) => a - b)[Math.floor(weights.length / 2)];
  const n = batch.count;
  const residual = (factor: number) => {
    let worst = 0;
    for (let c = 0; c < batch.variance.length; c++) {
      const predicted = (1 - w) * before.variance[c] + w * batch.variance[c] * factor;
      worst = Math.max(worst, Math.abs(predicted - after.variance[c]) / Math.max(Math.abs(after.variance[c]), 1e-30));
    }
    return worst;
  };
  const biased = residual(1);
  const unbiased = n > 1 ? residual(n / (n - 1)) : Infinity;
  const varianceEstimator = Math.min(biased, unbiased) > 1e-3 ? null : biased < unbiased ? "biased" : "unbiased";
  const rounded = Number(w.toPrecision(4));
  const momentum =
    `new batch weighted ${rounded}: torch momentum ${rounded}, or ` +
    `Keras/ONNX/Flax momentum ${Number((1 - w).toPrecision(4))}`;
  const variance =
    varianceEstimator === null
      ? "no plain ÷N or ÷(N−1) update explains the running variance"
      : `running variance takes the ${varianceEstimator} batch variance (${ESTIMATOR_FORMULAS[varianceEstimator]}: ` +
        `${varianceEstimator === "biased" ? "onnx, flax, keras3, non-fused keras" : "torch, fused keras"})`;
  return { batchWeight: w, varianceEstimator, description: `${momentum}; ${variance}` };
}
