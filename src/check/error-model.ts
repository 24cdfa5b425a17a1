/**
 * The error model: how far a numerically stable BatchNorm computed in a given precision can be from
 * the exact result, per element, derived from the data. docs/error-model.md derives it; this module
 * is its one implementation (the kernel only sees the four coefficients it produces per channel).
 *
 * For a channel with n values, exact mean μ, biased variance σ², eps ε, weight γ and bias β, the
 * exact output is y = (x − μ)·s + β with s = γ/√(σ² + ε). An implementation whose arithmetic has
 * unit roundoff u (float32: 2^-24) is allowed, at element x:
 *
 *   B(x) = |s|·E_μ + C_FOLD·u·|s|·(|x| + |μ|) + δ_s·|y − β| + C_OUT·u·(|y| + |β|)
 *
 * - E_μ, the error of the computed mean: u·(1 + C_SUM·√n)·m, m = √(μ² + σ²) ≥ mean|x|
 *   (0 in eval mode, where μ is given). The √n term is Higham and Mary's probabilistic bound for
 *   summation in the compute precision; wide, blocked or pairwise accumulation stays far inside it.
 * - The folding term covers (x − μ)·s rounded as written and the folded x·s + (β − μ·s).
 * - δ_s, the relative error of s: C_SCALE·u for ε's addition, the square root, the division and γ,
 *   plus the effect of the computed variance's error E_var = u·(C_VAR + C_SUM·√n)·σ² + E_μ²
 *   (a two-pass or Welford variance around a mean off by E_μ is off by E_μ² more), taken exactly
 *   through 1/√(σ² + ε ± E_var).
 * - The output's own rounding.
 *
 * bn-check's own float64 arithmetic is covered by adding the same bound at u = 2^-53.
 */
import type { ComputeDType } from "../core/tensor.js";
import { C_BOUND_CONSTANT, C_BOUND_PER_CENTRED, C_BOUND_PER_INPUT, C_BOUND_PER_OUTPUT } from "../kernel/abi.js";

/** Unit roundoff (half an ulp of 1) of each format a reference can be computed in. */
export const UNIT_ROUNDOFF: Readonly<Record<ComputeDType, number>> = Object.freeze({
  float16: 2 ** -11,
  bfloat16: 2 ** -8,
  float32: 2 ** -24,
  float64: 2 ** -53,
});

/** The model's constants (docs/error-model.md says where each comes from). */
export const MODEL_CONSTANTS = Object.freeze({
  /**
   * λ of the λ·√n·u summation term: about 2.5 standard deviations of a fully sequential float32
   * sum's error (σ ≈ 0.3·√n·u·|μ|); blocked, pairwise and wide accumulation stay far inside it.
   */
  sum: 0.75,
  /** Roundings of x − μ (or of x·s and μ·s when folded). */
  fold: 2,
  /** Roundings in s = γ/√(σ² + ε): the addition, the square root, the division, the product with γ. */
  scale: 4,
  /** Roundings of (x − μ)·s + β and of the stored y. */
  output: 2,
  /** Roundings of each squared deviation in the variance. */
  variance: 3,
  /** Roundings in the running-statistics update r ← a·r + b·batch. */
  update: 2,
});

/** Where the allowance of an element comes from, largest first when reported. */
export type BoundTerm = "mean" | "fold" | "scale" | "variance" | "output";

export const BOUND_TERM_LABELS: Readonly<Record<BoundTerm, (dtype: ComputeDType) => string>> = Object.freeze({
  mean: (dtype: ComputeDType) => `rounding of the batch mean to ${dtype}`,
  fold: (dtype: ComputeDType) => `rounding of x − μ (or of x·s and μ·s when folded) in ${dtype}`,
  scale: (dtype: ComputeDType) => `rounding of γ/√(σ² + ε) in ${dtype}`,
  variance: (dtype: ComputeDType) => `the batch variance's error in ${dtype} (around a rounded mean)`,
  output: (dtype: ComputeDType) => `rounding of y to ${dtype}`,
});

/** One channel's exact quantities. */
export interface ChannelArithmetic {
  /** Values per channel that the statistics were computed over (0 in eval mode). */
  readonly count: number;
  readonly mean: number;
  /** Biased variance (the one that normalises). */
  readonly variance: number;
  readonly epsilon: number;
  readonly weight: number;
  readonly bias: number;
  /** True when μ and σ² were computed from the batch (train); false when given (eval). */
  readonly batchStatistics: boolean;
}

/**
 * Every channel's statistics as columns, so that memory scales with the channels' numbers rather
 * than with an object per channel (a tensor may have millions of channels).
 */
export interface ChannelTable {
  readonly length: number;
  /** Values per channel the statistics were computed over (0 in eval mode). */
  readonly count: number;
  readonly mean: ArrayLike<number>;
  readonly variance: ArrayLike<number>;
  readonly weight: ArrayLike<number> | null;
  readonly bias: ArrayLike<number> | null;
  readonly epsilon: number;
  readonly batchStatistics: boolean;
}

/** One channel of a table, as the bound's functions take it (a short-lived object). */
export function channelAt(table: ChannelTable, c: number): ChannelArithmetic {
  return {
    count: table.count,
    mean: table.mean[c],
    variance: table.variance[c],
    epsilon: table.epsilon,
    weight: table.weight === null ? 1 : table.weight[c],
    bias: table.bias === null ? 0 : table.bias[c],
    batchStatistics: table.batchStatistics,
  };
}

/** The parts of one channel's bound at unit roundoff u. */
export interface ChannelBound {
  /** |s|·E_μ + C_FOLD·u·|s|·|μ| + C_OUT·u·|β|: what every element of the channel gets. */
  readonly constant: number;
  /** C_FOLD·u·|s|: per |x|. */
  readonly perAbsInput: number;
  /** δ_s: per |y − β|. */
  readonly perAbsCentred: number;
  /** C_OUT·u: per |y|. */
  readonly perAbsOutput: number;
  /** Error bound of the computed mean and variance (for the running statistics and reports). */
  readonly meanError: number;
  readonly varianceError: number;
  /** δ_s split: the roundings in s, and what the variance's error adds. */
  readonly scaleRounding: number;
  readonly scaleFromVariance: number;
  readonly s: number;
}

/** |value|, with NaN (from 0·∞ on degenerate data) as no allowance. */
export function finiteOrZero(value: number): number {
  return Number.isNaN(value) ? 0 : Math.abs(value);
}

/**
 * The mean's summation error in units of u·m. The √n term assumes the roundings of the partial sums
 * are independent; on a channel whose values are equal to within a few ulps of the mean (a constant
 * or dead channel) they are not: adding the same value n times rounds the same way at every step, and
 * the sum drifts by up to (n − 1)·u·|sum| (Higham, Accuracy and Stability, §4.2: the worst case of
 * recursive summation). There the deterministic bound holds; elsewhere the data's spread decorrelates
 * the roundings and the probabilistic one is kept, so the ill-conditioned channels that are not
 * constant (|mean|/std up to 1e5, where a scaled channel must still be caught) keep their tight bound.
 */
export function summationFactor(count: number, mean: number, variance: number, u: number): number {
  const probabilistic = 1 + MODEL_CONSTANTS.sum * Math.sqrt(Math.max(count, 1));
  const constant = Math.sqrt(variance) <= CORRELATED_SPREAD_ULPS * u * Math.abs(mean);
  return constant ? Math.max(probabilistic, count - 1) : probabilistic;
}

/** A channel whose standard deviation is within this many ulps of its mean sums with correlated roundings. */
export const CORRELATED_SPREAD_ULPS = 16;

/** One channel's bound at unit roundoff `u` (see the module comment). */
export function channelBound(channel: ChannelArithmetic, u: number): ChannelBound {
  const { count, mean, variance, epsilon, weight, bias, batchStatistics } = channel;
  const s = weight / Math.sqrt(variance + epsilon);
  const absS = Math.abs(s);
  const sqrtN = Math.sqrt(Math.max(count, 1));
  const magnitude = Math.sqrt(mean * mean + variance);
  const meanError = batchStatistics ? u * summationFactor(count, mean, variance, u) * magnitude : 0;
  const varianceError = batchStatistics
    ? u * (MODEL_CONSTANTS.variance + MODEL_CONSTANTS.sum * sqrtN) * variance + meanError * meanError
    : 0;
  // 1/√(σ² + ε ± E_var) against 1/√(σ² + ε), exactly (linearising fails when E_var ≳ σ² + ε).
  const exact = 1 / Math.sqrt(variance + epsilon);
  const high = 1 / Math.sqrt(Math.max(variance - varianceError, 0) + epsilon);
  const low = 1 / Math.sqrt(variance + epsilon + varianceError);
  const scaleFromVariance = Math.max(high / exact - 1, 1 - low / exact);
  const scaleRounding = MODEL_CONSTANTS.scale * u;
  return {
    constant: finiteOrZero(
      absS * (meanError + MODEL_CONSTANTS.fold * u * Math.abs(mean)) + MODEL_CONSTANTS.output * u * Math.abs(bias),
    ),
    perAbsInput: finiteOrZero(MODEL_CONSTANTS.fold * u * absS),
    perAbsCentred: finiteOrZero(scaleRounding + scaleFromVariance),
    perAbsOutput: MODEL_CONSTANTS.output * u,
    meanError,
    varianceError,
    scaleRounding,
    scaleFromVariance,
    s,
  };
}

/** Number of bound coefficients per channel in the kernel's constants (after shift, scale, offset). */
export const BOUND_COEFFICIENTS = 4;

/**
 * Writes the kernel's bound coefficients for every channel into `constants` (laid out as runs of
 * `channels` values: shift, scale, offset, then constant, per |x|, per |y − β|, per |y|), at the
 * reference's compute precision plus bn-check's own float64 arithmetic.
 */
export function writeBoundCoefficients(
  channels: ChannelTable,
  computeDtype: ComputeDType,
  constants: Float64Array,
): void {
  const count = channels.length;
  for (let c = 0; c < count; c++) {
    const channel = channelAt(channels, c);
    const reference = channelBound(channel, UNIT_ROUNDOFF[computeDtype]);
    const own = channelBound(channel, UNIT_ROUNDOFF.float64);
    constants[C_BOUND_CONSTANT * count + c] = reference.constant + own.constant;
    constants[C_BOUND_PER_INPUT * count + c] = reference.perAbsInput + own.perAbsInput;
    constants[C_BOUND_PER_CENTRED * count + c] = reference.perAbsCentred + own.perAbsCentred;
    constants[C_BOUND_PER_OUTPUT * count + c] = reference.perAbsOutput + own.perAbsOutput;
  }
}

/** B at one element, as the kernel evaluates it (the reference's precision plus bn-check's own). */
export function elementBound(channel: ChannelArithmetic, computeDtype: ComputeDType, input: number): number {
  let total = 0;
  for (const u of [UNIT_ROUNDOFF[computeDtype], UNIT_ROUNDOFF.float64]) {
    const bound = channelBound(channel, u);
    const centred = (input - channel.mean) * bound.s;
    total +=
      bound.constant +
      bound.perAbsInput * Math.abs(input) +
      bound.perAbsCentred * Math.abs(centred) +
      bound.perAbsOutput * Math.abs(centred + channel.bias);
  }
  return total;
}

/** The terms of B at one element, for naming the dominant one. */
export function boundTerms(
  channel: ChannelArithmetic,
  computeDtype: ComputeDType,
  input: number,
): Record<BoundTerm, number> {
  const bound = channelBound(channel, UNIT_ROUNDOFF[computeDtype]);
  const u = UNIT_ROUNDOFF[computeDtype];
  const centred = Math.abs((input - channel.mean) * bound.s);
  return {
    mean: Math.abs(bound.s) * bound.meanError,
    fold: MODEL_CONSTANTS.fold * u * Math.abs(bound.s) * (Math.abs(input) + Math.abs(channel.mean)),
    scale: bound.scaleRounding * centred,
    variance: bound.scaleFromVariance * centred,
    output: MODEL_CONSTANTS.output * u * (Math.abs(centred + channel.bias) + Math.abs(channel.bias)),
  };
}

export function dominantTerm(terms: Record<BoundTerm, number>): BoundTerm {
  let best: BoundTerm = "output";
  for (const term of Object.keys(terms) as BoundTerm[]) if (terms[term] > terms[best]) best = term;
  return best;
}

/** |μ|/σ: how ill-conditioned a channel's normalisation is (Infinity for a constant channel). */
export function conditioning(mean: number, variance: number): number {
  if (mean === 0) return 0;
  return Math.abs(mean) / Math.sqrt(variance);
}

/**
 * Bound of one running statistic after r ← a·r + b·batch in the parameter precision `u`, where the
 * batch statistic itself is off by at most `batchError`.
 */
export function runningUpdateBound(
  previous: number,
  batch: number,
  updated: number,
  runningWeight: number,
  batchWeight: number,
  batchError: number,
  u: number,
): number {
  const rounding =
    MODEL_CONSTANTS.update *
    u *
    (Math.abs(runningWeight * previous) + Math.abs(batchWeight * batch) + Math.abs(updated));
  return finiteOrZero(Math.abs(batchWeight) * batchError + rounding);
}
