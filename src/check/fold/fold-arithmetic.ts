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
import type { ComputeDType } from "../../core/tensor.js";

/** Unit roundoff (half an ulp of 1) and half the smallest subnormal spacing, per precision. */
export const FOLD_PRECISIONS: Readonly<
  Record<ComputeDType, { readonly u: number; readonly tiny: number; readonly maxFinite: number }>
> = {
  float16: { u: 2 ** -11, tiny: 2 ** -25, maxFinite: 65504 },
  bfloat16: { u: 2 ** -8, tiny: 2 ** -134, maxFinite: (2 - 2 ** -7) * 2 ** 127 },
  float32: { u: 2 ** -24, tiny: 2 ** -150, maxFinite: (2 - 2 ** -23) * 2 ** 127 },
  float64: { u: 2 ** -53, tiny: 2 ** -1075, maxFinite: Number.MAX_VALUE },
};

/** The bound's factor over the operation count (see the header). */
export const SAFETY = 2;

/** The unfused layer's numbers (float64 views of the file's values are not needed: any array). */
export interface FoldNumbers {
  readonly weight: ArrayLike<number>;
  readonly weightShape: readonly number[];
  /** The layer's own bias; null when it has none. */
  readonly bias: ArrayLike<number> | null;
  readonly gamma: ArrayLike<number> | null;
  readonly beta: ArrayLike<number> | null;
  readonly mean: ArrayLike<number>;
  readonly variance: ArrayLike<number>;
  readonly epsilon: number;
}

/** The numbers with where the weight's output channels lie (see `channelMap`). */
export interface FoldInputs extends FoldNumbers {
  readonly axis: number;
  readonly groups: number;
  readonly channels: number;
}

/**
 * What the fold should hold, in float64, and the allowance of each element. Per channel it keeps s
 * and the relative bound; per element W' = W·s and its bound are computed where they are used, never
 * stored for the whole weight (on a ResNet-18, two float64 copies of every weight were 180 MB of fresh
 * memory, and touching fresh pages cost more than the arithmetic). `weight` and `weightBound` build
 * those arrays on first use, for the cause search of a failing layer.
 */
export class ExpectedFold {
  private weightValues: Float64Array | null = null;
  private weightBounds: Float64Array | null = null;
  private channels: Uint32Array | null = null;

  constructor(
    readonly source: ArrayLike<number>,
    /** The weight's shape and where its output channels lie (see `channelMap`). */
    readonly shape: readonly number[],
    readonly axis: number,
    readonly groups: number,
    readonly scale: Float64Array,
    /** Per channel: the bound of W' relative to |W'|. */
    readonly weightRelative: Float64Array,
    /** The absolute part of every W' bound (subnormal spacing). */
    readonly weightAbsolute: number,
    readonly bias: Float64Array,
    readonly biasBound: Float64Array,
  ) {}

  /** Each weight element's output channel (built on first use). */
  get channelOf(): Uint32Array {
    this.channels ??= channelMap(this.shape, this.axis, this.groups);
    return this.channels;
  }

  get weight(): Float64Array {
    if (this.weightValues === null) {
      const values = new Float64Array(this.source.length);
      for (let i = 0; i < values.length; i++) values[i] = this.source[i] * this.scale[this.channelOf[i]];
      this.weightValues = values;
    }
    return this.weightValues;
  }

  get weightBound(): Float64Array {
    if (this.weightBounds === null) {
      const weight = this.weight;
      const bounds = new Float64Array(weight.length);
      for (let i = 0; i < bounds.length; i++)
        bounds[i] = this.weightRelative[this.channelOf[i]] * Math.abs(weight[i]) + this.weightAbsolute;
      this.weightBounds = bounds;
    }
    return this.weightBounds;
  }
}

/**
 * The output channel of each element of a weight whose output channels lie along `axis`, in
 * `groups` groups (ConvTranspose keeps [in, out/groups, …]: channel = group(in)·(out/groups) + j).
 * Filled run by run (a channel's elements are runs of the dims after `axis`), so the per-element loops
 * that use it do no division.
 */
export function channelMap(shape: readonly number[], axis: number, groups = 1): Uint32Array {
  let count = 1;
  for (const dim of shape) count *= dim;
  const map = new Uint32Array(count);
  forEachChannelRun(shape, axis, groups, (start, length, channel) => map.fill(channel, start, start + length));
  return map;
}

/** The runs of a weight's elements that share an output channel, in order: `visit(start, length, channel)`. */
export function forEachChannelRun(
  shape: readonly number[],
  axis: number,
  groups: number,
  visit: (start: number, length: number, channel: number) => void,
): void {
  let inner = 1;
  for (let k = axis + 1; k < shape.length; k++) inner *= shape[k];
  let outer = 1;
  for (let k = 0; k < axis; k++) outer *= shape[k];
  const along = shape[axis];
  const perRow = axis === 0 ? 1 : outer / shape[0];
  const rowsPerGroup = groups > 1 && axis > 0 ? shape[0] / groups : Number.POSITIVE_INFINITY;
  let at = 0;
  for (let o = 0; o < outer; o++) {
    const group = groups > 1 && axis > 0 ? Math.floor(Math.floor(o / perRow) / rowsPerGroup) : 0;
    for (let c = 0; c < along; c++) {
      visit(at, inner, group * along + c);
      at += inner;
    }
  }
}

/** The identity map of a per-channel vector (a bias). */
export function vectorMap(channels: number): Uint32Array {
  const map = new Uint32Array(channels);
  for (let c = 0; c < channels; c++) map[c] = c;
  return map;
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
  const weightRelative = new Float64Array(channels);
  const bias = new Float64Array(channels);
  const biasBound = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const variance = inputs.variance[c];
    const t = variance + epsilon;
    const tError = u * t + u * Math.abs(variance) + u * epsilon + 2 * tiny;
    const relative = (0.5 * tError) / t + 3 * u;
    weightRelative[c] = SAFETY * (relative + 2 * u);
    const s = scale[c];
    const b = inputs.bias === null ? 0 : inputs.bias[c];
    const beta = inputs.beta === null ? 0 : inputs.beta[c];
    bias[c] = (b - inputs.mean[c]) * s + beta;
    const terms =
      (Math.abs(b * s) + Math.abs(inputs.mean[c] * s)) * (relative + 3 * u) +
      2 * u * Math.abs(beta) +
      u * Math.abs(bias[c]) +
      3 * tiny;
    biasBound[c] = SAFETY * terms;
  }
  return new ExpectedFold(
    inputs.weight,
    inputs.weightShape,
    inputs.axis,
    inputs.groups,
    scale,
    weightRelative,
    SAFETY * tiny,
    bias,
    biasBound,
  );
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

interface Accumulator {
  failing: number;
  worstRatio: number;
  worstIndex: number;
  maxAbsError: number;
  worstAllowance: number;
  readonly channelRatios: Float64Array;
}

/** One element's error against its allowance, added to the running figures. */
function accumulate(
  acc: Accumulator,
  i: number,
  c: number,
  a: number,
  e: number,
  bound: number,
  flat: FlatTolerance | null,
  strict: boolean,
): void {
  const error = Number.isNaN(a) && Number.isNaN(e) ? 0 : Math.abs(a - e);
  const flatAllowance = flat === null ? 0 : flat.atol + flat.rtol * Math.abs(e);
  const allowance = strict ? flatAllowance : Math.max(flatAllowance, bound);
  const ratio = Number.isNaN(error) ? Infinity : error === 0 ? 0 : allowance === 0 ? Infinity : error / allowance;
  if (ratio > 1) acc.failing++;
  if (error > acc.maxAbsError || Number.isNaN(error)) acc.maxAbsError = Number.isNaN(error) ? Infinity : error;
  if (ratio > acc.channelRatios[c]) acc.channelRatios[c] = ratio;
  if (ratio > acc.worstRatio) {
    acc.worstRatio = ratio;
    acc.worstIndex = i;
    acc.worstAllowance = allowance;
  }
}

function figuresOf(
  name: string,
  acc: Accumulator,
  count: number,
  channelOf: Uint32Array | null,
  actual: ArrayLike<number>,
  expectedAt: (i: number) => number,
): FoldTensorCheck {
  return {
    name,
    count,
    failing: acc.failing,
    worstRatio: Math.max(acc.worstRatio, 0),
    worstIndex: acc.worstIndex,
    worstChannel: count === 0 || channelOf === null ? 0 : channelOf[acc.worstIndex],
    worstActual: count === 0 ? 0 : actual[acc.worstIndex],
    worstExpected: count === 0 ? 0 : expectedAt(acc.worstIndex),
    worstAllowance: acc.worstAllowance,
    maxAbsError: acc.maxAbsError,
    channelRatios: acc.channelRatios,
  };
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
  channelOf: Uint32Array,
  channels: number,
  flat: FlatTolerance | null,
  strict: boolean,
): FoldTensorCheck {
  const acc: Accumulator = {
    failing: 0,
    worstRatio: -1,
    worstIndex: 0,
    maxAbsError: 0,
    worstAllowance: 0,
    channelRatios: new Float64Array(channels),
  };
  for (let i = 0; i < expected.length; i++)
    accumulate(acc, i, channelOf[i], actual[i], expected[i], bound[i], flat, strict);
  return figuresOf(name, acc, expected.length, channelOf, actual, (i) => expected[i]);
}

/** `checkFoldedTensor` for W', with W' = W·s and its bound computed per element (nothing stored). */
export function checkFoldedWeight(
  actual: ArrayLike<number>,
  expected: ExpectedFold,
  flat: FlatTolerance | null,
  strict: boolean,
): FoldTensorCheck {
  const { source, scale, weightRelative, weightAbsolute } = expected;
  const acc: Accumulator = {
    failing: 0,
    worstRatio: -1,
    worstIndex: 0,
    maxAbsError: 0,
    worstAllowance: 0,
    channelRatios: new Float64Array(scale.length),
  };
  let worstChannel = 0;
  forEachChannelRun(expected.shape, expected.axis, expected.groups, (start, length, c) => {
    const s = scale[c];
    const relative = weightRelative[c];
    for (let i = start; i < start + length; i++) {
      const e = source[i] * s;
      const a = actual[i];
      const error = Math.abs(a - e);
      const bound = relative * Math.abs(e) + weightAbsolute;
      // The common case, decided without the bookkeeping: inside the bound and below every figure so far.
      if (
        flat === null &&
        !strict &&
        error <= bound &&
        acc.maxAbsError >= error &&
        acc.channelRatios[c] * bound >= error
      )
        continue;
      const before = acc.worstRatio;
      accumulate(acc, i, c, a, e, bound, flat, strict);
      if (acc.worstRatio !== before) worstChannel = c;
    }
  });
  const figures = figuresOf("weight", acc, source.length, null, actual, (i) => source[i] * scale[worstChannel]);
  return { ...figures, worstChannel: source.length === 0 ? 0 : worstChannel };
}

/**
 * Each output channel's implied scale s'_c = ⟨W', W⟩ / ⟨W, W⟩ (least squares over the channel's
 * finite elements; NaN for an all-zero channel): what the fold multiplied the channel by.
 */
export function impliedScale(
  folded: ArrayLike<number>,
  weight: ArrayLike<number>,
  channelOf: Uint32Array,
  channels: number,
): Float64Array {
  const dot = new Float64Array(channels);
  const norm = new Float64Array(channels);
  for (let i = 0; i < weight.length; i++) {
    const a = folded[i];
    if (!Number.isFinite(a)) continue;
    const c = channelOf[i];
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
export function isChannelwiseMultiple(
  folded: ArrayLike<number>,
  weight: ArrayLike<number>,
  channelOf: Uint32Array,
  channels: number,
  relative: number,
): boolean {
  const scale = impliedScale(folded, weight, channelOf, channels);
  const fits = new Uint8Array(channels).fill(1);
  const telling = new Uint8Array(channels);
  for (let i = 0; i < weight.length; i++) {
    const c = channelOf[i];
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
