/**
 * The error model of BatchNorm's gradients: how far a numerically stable implementation computing
 * in unit roundoff u may be from the exact dx, dγ and dβ (docs/error-model.md, "Gradients").
 *
 * Notation per channel (n values): r = 1/√(σ² + ε), k = γ·r, x̂ = (x − μ)·r, x̂_max = max|x̂|,
 * m_dy = mean(dy), m_2 = mean(dy·x̂), A = Σ|dy|, A_2 = Σ|dy·x̂|. From the forward model
 * (channelBound): E_μ, the computed mean's error (0 with given statistics), and δ_r, the relative
 * error of r (its roundings and the computed variance's error). The computed x̂_i = fl(x_i − μ̃)·r̃
 * differs from x̂_i by
 *   −r·e_μ (one shift shared by every element: the same rounded mean) + δ_r·x̂_i (one factor shared)
 *   + at most C_FOLD·u·(|x̂_i| + 2·r·|μ|) (the subtraction, or x·r − μ·r when folded).
 * A sum in precision u is off by at most S·Σ|terms| with S = u·(1 + λ√n) (Higham and Mary's
 * probabilistic bound, λ as in the forward model). Shared shifts and factors act on the sums, not
 * term by term, which keeps the bound close to the real errors:
 *   dβ = Σdy:     S·A
 *   dγ = Σdy·x̂:   S·A_2 + |Σdy|·r·E_μ + C_FOLD·u·(A_2 + 2·r·|μ|·A) + δ_r·|dγ|
 *   dx (batch):   |k|·(E_mdy + |m_2|·X + x̂_max·E_m2 + C_SUB·u·(max|dy| + |m_dy| + x̂_max·|m_2|)) + δ_r·|dx|
 *                 with E_mdy = S·A/n, E_m2 = (the dγ bound)/n, X = r·E_μ + C_FOLD·u·(x̂_max + 2·r·|μ|)
 *   dx (given):   δ_r·|dx|
 * plus each result's own rounding, C_OUT·u·|result|.
 */
import { channelBound, finiteOrZero, MODEL_CONSTANTS, type ChannelArithmetic } from "./error-model.js";

/** Roundings in dy − m_dy − x̂·m_2 (two subtractions and a product). */
const C_SUB = 3;

/** One channel's gradient sums (exact, from bn-check's float64 pass). */
export interface GradientSums {
  readonly sumDy: number;
  readonly sumAbsDy: number;
  readonly sumAbsDyCentred: number;
  readonly sumDyCentred: number;
  readonly maxAbsDy: number;
  readonly maxAbsCentred: number;
}

export interface GradientBound {
  /** dx: the constant part per channel, and the part per |dx|. */
  readonly inputConstant: number;
  readonly inputPerAbs: number;
  readonly weight: number;
  readonly bias: number;
}

/** A channel's gradient bounds at unit roundoff `u`; `n` values per channel. */
export function gradientBound(channel: ChannelArithmetic, sums: GradientSums, n: number, u: number): GradientBound {
  const forward = channelBound({ ...channel, count: channel.batchStatistics ? n : 0 }, u);
  const r = 1 / Math.sqrt(channel.variance + channel.epsilon);
  const k = Math.abs(channel.weight) * r;
  const deltaR = forward.scaleRounding + forward.scaleFromVariance;
  const summation = u * (1 + MODEL_CONSTANTS.sum * Math.sqrt(Math.max(n, 1)));
  const fold = MODEL_CONSTANTS.fold * u;
  const xHatMax = sums.maxAbsCentred * r;
  const sumAbsDyXHat = sums.sumAbsDyCentred * r;
  const dGamma = Math.abs(sums.sumDyCentred * r);
  const output = MODEL_CONSTANTS.output * u;
  const meanShift = r * forward.meanError;
  const folded = 2 * r * Math.abs(channel.mean);
  const weightError =
    summation * sumAbsDyXHat +
    Math.abs(sums.sumDy) * meanShift +
    fold * (sumAbsDyXHat + folded * sums.sumAbsDy) +
    deltaR * dGamma;
  const weight = weightError + output * dGamma;
  const bias = summation * sums.sumAbsDy + output * Math.abs(sums.sumDy);
  if (!channel.batchStatistics)
    return { inputConstant: 0, inputPerAbs: deltaR + output, weight: finiteOrZero(weight), bias: finiteOrZero(bias) };
  const meanDy = sums.sumDy / n;
  const m2 = (sums.sumDyCentred * r) / n;
  const errorMeanDy = (summation * sums.sumAbsDy) / n;
  const errorM2 = weightError / n;
  const errorXHat = meanShift + fold * (xHatMax + folded);
  const inputConstant =
    k *
    (errorMeanDy +
      Math.abs(m2) * errorXHat +
      xHatMax * errorM2 +
      C_SUB * u * (sums.maxAbsDy + Math.abs(meanDy) + xHatMax * Math.abs(m2)));
  return {
    inputConstant: finiteOrZero(inputConstant),
    inputPerAbs: deltaR + output,
    weight: finiteOrZero(weight),
    bias: finiteOrZero(bias),
  };
}
