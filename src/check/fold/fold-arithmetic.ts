/**
 * The arithmetic of a BatchNorm folded into the layer before it, recomputed in float64, and the
 * error model that says how far a correct fold done in a narrower dtype can be from it.
 *
 *   s_c  = γ_c / √(var_c + eps)                         (per output channel c)
 *   W'   = W · s_c  along the output-channel axis
 *   b'_c = (b_c − mean_c) · s_c + β_c                   (b = 0 when the layer has no bias)
 *
 * Real tools order these operations differently — torch's `fuse_conv_bn_weights` computes
 * rsqrt(var + eps) and ((b − mean)·r)·γ + β; onnxruntime's ConvBnFusion √(var + eps), γ / that, then
 * b·s + (β − mean·s) — so two correct folds differ by a few ulps, and b' can be tiny while its terms
 * are large. The bound therefore counts roundings per operation (unit roundoff u of the precision
 * the fold ran in) against the magnitudes of the terms, never of the result:
 *
 *   t = var + eps:  |δt| ≤ u·t + (rounding of var and eps to the dtype: u·var + u·eps + 2·tiny)
 *   s:              |δs|/|s| ≤ ½|δt|/t + 3u   (√ and the division or rsqrt, γ's rounding, γ·r)
 *   W':             |δW'| ≤ (|δs|/|s| + 2u)·|W'| + tiny          (W's rounding, the product)
 *   b':             |δb'| ≤ (|δs|/|s| + 3u)·(|b·s| + |mean·s|) + 2u·|β| + u·|b'| + 3·tiny
 *
 * where tiny is half the dtype's smallest subnormal spacing (a product that lands in the subnormal
 * range loses absolute, not relative, accuracy). The whole bound is doubled (SAFETY) so that an
 * rsqrt approximated to 1–2 ulps, as vectorised libraries do, stays inside it; a wrong eps, axis or
 * statistic moves s by far more (1e-3 against 1e-5 moves it by ~5e-4/var relative).
 */
import type { ComputeDType } from "../../npy/tensor.js";

/** Unit roundoff (half an ulp of 1) and half the smallest subnormal spacing, per precision. */
export const FOLD_PRECISIONS: Readonly<Record<ComputeDType, { readonly u: number; readonly tiny: number; readonly maxFinite: number }>> = {
  float16: { u: 2 ** -11, tiny: 2 ** -25, maxFinite: 65504 },
  bfloat16: { u: 2 ** -8, tiny: 2 ** -134, maxFinite: (2 - 2 ** -7) * 2 ** 127 },
  float32: { u: 2 ** -24, tiny: 2 ** -150, maxFinite: (2 - 2 ** -23) * 2 ** 127 },
  float64: { u: 2 ** -53, tiny: 2 ** -1075, maxFinite: Number.MAX_VALUE },
};

/** The bound's factor over the operation count (see the header). */
export const SAFETY = 2;

/** The BatchNorm and the layer before it, as numbers (float64 views of the file's values). */
export interface FoldInputs {
  readonly weight: ArrayLike<number>;
  readonly weightShape: readonly number[];
  /** The layer's own bias; null when it has none. */
  readonly bias: ArrayLike<number> | null;
  readonly gamma: ArrayLike<number> | null;
  readonly beta: ArrayLike<number> | null;
  readonly mean: ArrayLike<number>;
  readonly variance: ArrayLike<number>;
  readonly epsilon: number;
  /** Output channel of each weight element (see `channelMap`). */
  readonly channelOf: (flatIndex: number) => number;
  readonly channels: number;
}

/** What the fold should hold, in float64, and the allowance of each element. */
export interface ExpectedFold {
  readonly scale: Float64Array;
  readonly weight: Float64Array;
  readonly weightBound: Float64Array;
  readonly bias: Float64Array;
  readonly biasBound: Float64Array;
}

/**
 * The output channel of each element of a weight whose output channels lie along `axis`, in
 * `groups` groups (ConvTranspose keeps [in, out/groups, …]: channel = group(in)·(out/groups) + j).
 */
export function channelMap(shape: readonly number[], axis: number, groups = 1): (flatIndex: number) => number {
  let inner = 1;
  for (let k = axis + 1; k < shape.length; k++) inner *= shape[k];
  const along = shape[axis];
  if (groups <= 1 || axis === 0) return (i) => Math.floor(i / inner) % along;
  let outerInner = inner * along;
  const inPerGroup = shape[0] / groups;
  for (let k = 1; k < axis; k++) outerInner *= shape[k];
  return (i) => Math.floor(Math.floor(i / outerInner) / inPerGroup) * along + (Math.floor(i / inner) % along);
}

/** The scale s_c = γ_c / √(var_c + eps) in float64. */
export function foldScale(gamma: ArrayLike<number> | null, variance: ArrayLike<number>, epsilon: number): Float64Array {
  const scale = new Float64Array(variance.length);
  for (let c = 0; c < scale.length; c++) scale[c] = (gamma === null ? 1 : gamma[c]) / Math.sqrt(variance[c] + epsilon);
  return scale;
}

/** The fold recomputed in float64, with each element's bound for a fold run in `precision`. */
export function expectedFold(inputs: FoldInputs, precision: ComputeDType): ExpectedFold {
  const { u, tiny } = FOLD_PRECISIONS[precision];
  const { channels, epsilon } = inputs;
  const scale = foldScale(inputs.gamma, inputs.variance, epsilon);
  const scaleError = new Float64Array(channels);
  const bias = new Float64Array(channels);
  const biasBound = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const variance = inputs.variance[c];
    const t = variance + epsilon;
    const tError = u * t + u * Math.abs(variance) + u * epsilon + 2 * tiny;
    const relative = (0.5 * tError) / t + 3 * u;
    scaleError[c] = relative;
    const s = scale[c];
    const b = inputs.bias === null ? 0 : inputs.bias[c];
    const beta = inputs.beta === null ? 0 : inputs.beta[c];
    bias[c] = (b - inputs.mean[c]) * s + beta;
    const terms = (Math.abs(b * s) + Math.abs(inputs.mean[c] * s)) * (relative + 3 * u) + 2 * u * Math.abs(beta) + u * Math.abs(bias[c]) + 3 * tiny;
    biasBound[c] = SAFETY * terms;
  }
  const count = inputs.weight.length;
  const weight = new Float64Array(count);
  const weightBound = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const c = inputs.channelOf(i);
    const w = inputs.weight[i] * scale[c];
    weight[i] = w;
    weightBound[i] = SAFETY * ((scaleError[c] + 2 * u) * Math.abs(w) + tiny);
  }
  return { scale, weight, weightBound, bias, biasBound };
}

/** How one folded tensor compares with the expected one. */
export interface FoldTensorCheck {
  readonly name: string;
  readonly count: number;
  /** Elements outside their allowance. */
  readonly failing: number;
  /** The largest error/allowance (Infinity for a non-finite value where a finite one belongs). */
  readonly worstRatio: number;
  readonly worstIndex: number;
  readonly worstChannel: number;
  readonly worstActual: number;
  readonly worstExpected: number;
  readonly worstAllowance: number;
  readonly maxAbsError: number;
  /** Per output channel, the largest error/allowance. */
  readonly channelRatios: Float64Array;
}

export interface FlatTolerance {
  readonly atol: number;
  readonly rtol: number;
}

/**
 * Each element's error against its allowance: the error model's bound, or the larger flat
 * tolerance atol + rtol·|expected| when one is given; `strict` uses the flat tolerance alone. NaN
 * matches NaN at the same place (parameters that hold NaN fold to NaN).
 */
export function checkFoldedTensor(
  name: string,
  actual: ArrayLike<number>,
  expected: Float64Array,
  bound: Float64Array,
  channelOf: (flatIndex: number) => number,
  channels: number,
  flat: FlatTolerance | null,
  strict: boolean,
): FoldTensorCheck {
  const channelRatios = new Float64Array(channels);
  let failing = 0;
  let worstRatio = -1;
  let worstIndex = 0;
  let maxAbsError = 0;
  let worstAllowance = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const error = Number.isNaN(a) && Number.isNaN(e) ? 0 : Math.abs(a - e);
    const flatAllowance = flat === null ? 0 : flat.atol + flat.rtol * Math.abs(e);
    const allowance = strict ? flatAllowance : Math.max(flatAllowance, bound[i]);
    const ratio = Number.isNaN(error) ? Infinity : error === 0 ? 0 : allowance === 0 ? Infinity : error / allowance;
    if (ratio > 1) failing++;
    if (error > maxAbsError || Number.isNaN(error)) maxAbsError = Number.isNaN(error) ? Infinity : error;
    const c = channelOf(i);
    if (ratio > channelRatios[c]) channelRatios[c] = ratio;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
      worstAllowance = allowance;
    }
  }
  return {
    name,
    count: expected.length,
    failing,
    worstRatio: Math.max(worstRatio, 0),
    worstIndex,
    worstChannel: expected.length === 0 ? 0 : channelOf(worstIndex),
    worstActual: expected.length === 0 ? 0 : actual[worstIndex],
    worstExpected: expected.length === 0 ? 0 : expected[worstIndex],
    worstAllowance,
    maxAbsError,
    channelRatios,
  };
}

/**
 * Each output channel's implied scale s'_c = ⟨W', W⟩ / ⟨W, W⟩ (least squares over the channel's
 * finite elements; NaN for an all-zero channel): what the fold multiplied the channel by.
 */
export function impliedScale(folded: ArrayLike<number>, weight: ArrayLike<number>, channelOf: (i: number) => number, channels: number): Float64Array {
  const dot = new Float64Array(channels);
  const norm = new Float64Array(channels);
  for (let i = 0; i < weight.length; i++) {
    const a = folded[i];
    if (!Number.isFinite(a)) continue;
    const c = channelOf(i);
    dot[c] += a * weight[i];
    norm[c] += weight[i] * weight[i];
  }
  const scale = new Float64Array(channels);
  for (let c = 0; c < channels; c++) scale[c] = norm[c] === 0 ? Number.NaN : dot[c] / norm[c];
  return scale;
}

/**
 * Whether W' is W times one number per channel along this channel map, within `relative` of each
 * element (non-finite elements and all-zero channels aside): at least half of the channels that can
 * tell must fit. How a folded weight is recognised when its name does not survive the fold.
 */
export function isChannelwiseMultiple(folded: ArrayLike<number>, weight: ArrayLike<number>, channelOf: (i: number) => number, channels: number, relative: number): boolean {
  const scale = impliedScale(folded, weight, channelOf, channels);
  const fits = new Uint8Array(channels).fill(1);
  const telling = new Uint8Array(channels);
  for (let i = 0; i < weight.length; i++) {
    const c = channelOf(i);
    if (Number.isNaN(scale[c]) || !Number.isFinite(folded[i])) continue;
    telling[c] = 1;
    const predicted = scale[c] * weight[i];
    if (Math.abs(folded[i] - predicted) > relative * (Math.abs(folded[i]) + Math.abs(predicted)) + 1e-30) fits[c] = 0;
  }
  let told = 0;
  let fitting = 0;
  for (let c = 0; c < channels; c++) {
    if (telling[c] === 0) continue;
    told++;
    fitting += fits[c];
  }
  return told > 0 && fitting * 2 >= told;
}
