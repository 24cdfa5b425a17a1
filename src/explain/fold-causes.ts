/**
 * Why a fold does not conform, found by a search over the alternatives people get wrong — each
 * alternative is judged by the same error model as the fold itself, and a cause is named only
 * when the data fits it: overflow or underflow in the folded dtype, a layer left unfolded, another
 * eps (solved for from the implied scale, then confirmed), the wrong axis, a bias folded without the
 * running mean, β or the layer's own bias, other running statistics, permuted or sign-flipped
 * channels. Nothing fits: the failing channels are named, never guessed at.
 */
import { FOLD_PRECISIONS, impliedScale } from "../check/fold/fold-arithmetic.js";
import type { ChannelReading } from "../check/fold/fold-model.js";
import {
  type FoldedNumbers,
  type FoldJudgement,
  type FoldJudging,
  type FoldNumbers,
  judgeFold,
} from "../check/fold/judge-fold.js";
import { otherEpsilons } from "../conventions/alternatives.js";
import { formatNumber } from "../core/format.js";

export interface FoldCause {
  /**
   * A short class for machines: overflow, underflow, not-folded, eps, axis, bias, statistics, channels, unexplained.
   */
  readonly kind: string;
  readonly text: string;
  /** The eps the fold implies, when that is the cause. */
  readonly epsilon?: number;
}

/** The eps values frameworks use, tried besides the one the fold implies. */

function channelList(channels: readonly number[]): string {
  const shown = channels.slice(0, 8).join(", ");
  return channels.length > 8 ? `${shown} … (${channels.length} channels)` : shown;
}

function failingChannels(judgement: FoldJudgement): number[] {
  const result: number[] = [];
  const { weight, bias } = judgement;
  for (let c = 0; c < bias.channelRatios.length; c++)
    if (weight.channelRatios[c] > 1 || bias.channelRatios[c] > 1) result.push(c);
  return result;
}

function nonFiniteCause(
  folded: FoldedNumbers,
  judgement: FoldJudgement,
  precision: FoldJudging["precision"],
): FoldCause | undefined {
  const { maxFinite } = FOLD_PRECISIONS[precision];
  const overflowing = new Set<number>();
  let worstExpected = 0;
  const scan = (actual: ArrayLike<number>, expected: Float64Array, channelOf: Uint32Array | null) => {
    for (let i = 0; i < expected.length; i++) {
      if (Number.isFinite(actual[i]) || !Number.isFinite(expected[i])) continue;
      overflowing.add(channelOf === null ? i : channelOf[i]);
      worstExpected = Math.max(worstExpected, Math.abs(expected[i]));
    }
  };
  scan(folded.weight, judgement.expected.weight, judgement.expected.channelOf);
  if (folded.bias !== null) scan(folded.bias, judgement.expected.bias, null);
  if (overflowing.size === 0) return undefined;
  const channels = [...overflowing].sort((a, b) => a - b);
  const scale = channels.map((c) => Math.abs(judgement.expected.scale[c]));
  const beyond = worstExpected > maxFinite;
  return {
    kind: "overflow",
    text:
      `overflow in ${precision}: channel ${channelList(channels)} folds to inf or NaN` +
      (beyond
        ? ` (γ/√(var + eps) = ${formatNumber(Math.max(...scale))}; W' reaches ${formatNumber(worstExpected)}, ` +
          `beyond ${precision}'s largest ${maxFinite}: fold in float32, or clamp the near-dead channel)`
        : ` where the fold is ${formatNumber(worstExpected)}, within ${precision}'s range`),
  };
}

function underflowCause(
  folded: FoldedNumbers,
  judgement: FoldJudgement,
  precision: FoldJudging["precision"],
): FoldCause | undefined {
  const channels = new Set<number>();
  const minNormal =
    precision === "float16" ? 2 ** -14 : precision === "bfloat16" || precision === "float32" ? 2 ** -126 : 2 ** -1022;
  const { weight, expected } = judgement;
  const channelOf = expected.channelOf;
  for (let i = 0; i < expected.weight.length; i++) {
    const a = Math.abs(folded.weight[i]);
    if (
      a < minNormal &&
      Math.abs(expected.weight[i]) >= minNormal &&
      Math.abs(folded.weight[i] - expected.weight[i]) > expected.weightBound[i]
    )
      channels.add(channelOf[i]);
  }
  if (channels.size === 0 || weight.failing === 0) return undefined;
  return {
    kind: "underflow",
    text:
      `underflow in ${precision}: channel ${channelList([...channels].sort((a, b) => a - b))}` +
      ` folds to zero or subnormals where W' is a normal number`,
  };
}

function notFoldedCause(numbers: FoldNumbers, folded: FoldedNumbers): FoldCause | undefined {
  for (let i = 0; i < numbers.weight.length; i++) if (folded.weight[i] !== numbers.weight[i]) return undefined;
  return {
    kind: "not-folded",
    text:
      "not folded: the folded weight is the unfused layer's own " +
      "(the BatchNorm was left out, or kept as a node of its own)",
  };
}

/** The eps each channel's implied scale solves for, when the channels agree on one. */
function impliedEpsilon(numbers: FoldNumbers, folded: FoldedNumbers, judgement: FoldJudgement): number | undefined {
  const channels = numbers.mean.length;
  const scale = impliedScale(folded.weight, numbers.weight, judgement.expected.channelOf, channels);
  const values: number[] = [];
  for (let c = 0; c < channels; c++) {
    const gamma = numbers.gamma === null ? 1 : numbers.gamma[c];
    if (!Number.isFinite(scale[c]) || scale[c] === 0) continue;
    values.push((gamma / scale[c]) ** 2 - numbers.variance[c]);
  }
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  const median = values[Math.floor(values.length / 2)];
  if (!(median > 0)) return undefined;
  return Number(median.toPrecision(3));
}

function epsilonCause(
  numbers: FoldNumbers,
  folded: FoldedNumbers,
  judgement: FoldJudgement,
  judging: FoldJudging,
): FoldCause | undefined {
  const implied = impliedEpsilon(numbers, folded, judgement);
  const candidates = [...(implied === undefined ? [] : [implied]), ...otherEpsilons(numbers.epsilon, "any")].filter(
    (eps) => eps !== numbers.epsilon,
  );
  for (const epsilon of candidates) {
    if (judgeFold({ ...numbers, epsilon }, folded, judgement.reading, judging).conforms) {
      return {
        kind: "eps",
        epsilon,
        text: `folded with eps ${formatNumber(epsilon)}; the layer's is ${formatNumber(numbers.epsilon)}`,
      };
    }
  }
  return undefined;
}

function axisCause(
  numbers: FoldNumbers,
  folded: FoldedNumbers,
  judgement: FoldJudgement,
  readings: readonly ChannelReading[],
  judging: FoldJudging,
): FoldCause | undefined {
  const channels = numbers.mean.length;
  const used = judgement.reading.axis;
  for (let axis = 0; axis < numbers.weightShape.length; axis++) {
    if (axis === used || numbers.weightShape[axis] !== channels) continue;
    if (readings.length > 1 && readings.some((reading) => reading.axis === axis)) continue;
    const other: ChannelReading = { axis, groups: 1, op: `dim ${axis}` };
    if (judgeFold(numbers, folded, other, judging).weight.failing === 0) {
      const what = axis === 0 ? "dim 0" : `dim ${axis}`;
      return {
        kind: "axis",
        text: `scaled along ${what} instead of dim ${used}, the output-channel axis of ${judgement.reading.op}`,
      };
    }
  }
  return undefined;
}

function biasCause(numbers: FoldNumbers, folded: FoldedNumbers, judgement: FoldJudgement): FoldCause | undefined {
  if (judgement.weight.failing > 0 || judgement.bias.failing === 0) return undefined;
  if (folded.bias === null)
    return { kind: "bias", text: "the folded layer has no bias: b' = (b − mean)·γ/√(var + eps) + β is missing" };
  const { scale, biasBound } = judgement.expected;
  const b = (c: number) => (numbers.bias === null ? 0 : numbers.bias[c]);
  const beta = (c: number) => (numbers.beta === null ? 0 : numbers.beta[c]);
  // Each form leaves out terms of the true b', so the true bound (over all its terms) covers its rounding too.
  const alternatives: [(c: number) => number, string][] = [
    [(c) => b(c) * scale[c] + beta(c), "the bias was folded without the running mean: b' = b·s + β"],
    [(c) => (b(c) - numbers.mean[c]) * scale[c], "the bias was folded without β: b' = (b − mean)·s"],
    [
      (c) => beta(c) - numbers.mean[c] * scale[c],
      "the bias was folded without the layer's own bias b: b' = β − mean·s",
    ],
  ];
  const foldedBias = folded.bias;
  for (const [form, text] of alternatives) {
    if (Array.from(biasBound, (bound, c) => Math.abs(foldedBias[c] - form(c)) <= bound).every(Boolean))
      return { kind: "bias", text };
  }
  const zeros = new Float64Array(numbers.mean.length);
  const own = numbers.bias;
  if (own !== null && Array.from({ length: zeros.length }, (_, c) => folded.bias?.[c] === own[c]).every(Boolean))
    return { kind: "bias", text: "the bias was not folded: b' is the layer's own bias" };
  return undefined;
}

function percent(value: number): string {
  return `${Number((value * 100).toPrecision(2))}%`;
}

function statisticsCause(numbers: FoldNumbers, folded: FoldedNumbers, judgement: FoldJudgement): FoldCause | undefined {
  const channels = numbers.mean.length;
  const scale = impliedScale(folded.weight, numbers.weight, judgement.expected.channelOf, channels);
  const failing = failingChannels(judgement);
  let varianceChannels = 0;
  let worstVariance = 0;
  let meanChannels = 0;
  let worstMean = 0;
  for (const c of failing) {
    const gamma = numbers.gamma === null ? 1 : numbers.gamma[c];
    if (!Number.isFinite(scale[c]) || scale[c] === 0) return undefined;
    if (judgement.weight.channelRatios[c] > 1) {
      const variance = (gamma / scale[c]) ** 2 - numbers.epsilon;
      const change =
        Math.abs(variance - numbers.variance[c]) / Math.max(Math.abs(numbers.variance[c]), numbers.epsilon);
      varianceChannels++;
      worstVariance = Math.max(worstVariance, change);
    }
    if (judgement.bias.channelRatios[c] > 1 && folded.bias !== null) {
      // The mean differs only where b' is off even with the scale the fold applied.
      const b = numbers.bias === null ? 0 : numbers.bias[c];
      const beta = numbers.beta === null ? 0 : numbers.beta[c];
      const withAppliedScale = (b - numbers.mean[c]) * scale[c] + beta;
      if (Math.abs(folded.bias[c] - withAppliedScale) <= judgement.expected.biasBound[c]) continue;
      const mean = b - (folded.bias[c] - beta) / scale[c];
      meanChannels++;
      worstMean = Math.max(
        worstMean,
        Math.abs(mean - numbers.mean[c]) / Math.sqrt(numbers.variance[c] + numbers.epsilon),
      );
    }
  }
  // W' must still be W times one number per channel: other statistics change s, not the shape of W.
  const residual = judgeFold(
    {
      ...numbers,
      gamma: Float64Array.from(scale, (s) => Math.sign(s) || 1),
      variance: Float64Array.from(scale, (s) => 1 / (s * s) - numbers.epsilon),
    },
    folded,
    judgement.reading,
    {
      precision: "float16",
      flat: null,
      strict: false,
    },
  );
  if (residual.weight.failing > 0 && varianceChannels > 0) return undefined;
  const parts: string[] = [];
  if (varianceChannels > 0)
    parts.push(`var (or γ) differs in ${varianceChannels} of ${channels} channels by up to ${percent(worstVariance)}`);
  if (meanChannels > 0)
    parts.push(
      `mean differs in ${meanChannels} of ${channels} channels by up to ` +
        `${formatNumber(Number(worstMean.toPrecision(2)))} standard deviations`,
    );
  if (parts.length === 0) return undefined;
  return { kind: "statistics", text: `folded from other running statistics: ${parts.join("; ")}` };
}

/** Channels whose folded values are another channel's, or the negation of their own. */
function channelsCause(folded: FoldedNumbers, judgement: FoldJudgement): FoldCause | undefined {
  const failing = failingChannels(judgement);
  if (failing.length === 0 || failing.length > 256) return undefined;
  const { expected } = judgement;
  const channelOf = expected.channelOf;
  const byChannel = new Map<number, number[]>();
  for (let i = 0; i < expected.weight.length; i++) {
    const c = channelOf[i];
    const list = byChannel.get(c);
    if (list === undefined) byChannel.set(c, [i]);
    else list.push(i);
  }
  const matches = (c: number, k: number, sign: number): boolean => {
    const own = byChannel.get(c) ?? [];
    const other = byChannel.get(k) ?? [];
    if (own.length !== other.length) return false;
    for (let j = 0; j < own.length; j++) {
      if (Math.abs(sign * folded.weight[own[j]] - expected.weight[other[j]]) > expected.weightBound[other[j]])
        return false;
    }
    return true;
  };
  const flipped = failing.filter((c) => matches(c, c, -1));
  if (flipped.length === failing.length)
    return { kind: "channels", text: `sign-flipped channels: ${channelList(flipped)} hold −W'` };
  const moved: string[] = [];
  for (const c of failing) {
    const source = failing.find((k) => k !== c && matches(c, k, 1));
    if (source === undefined) return undefined;
    moved.push(`${c} ← ${source}`);
  }
  return {
    kind: "channels",
    text:
      `permuted channels: folded channel ← the channel it holds: ` +
      `${moved.slice(0, 8).join(", ")}${moved.length > 8 ? " …" : ""}`,
  };
}

/** The cause of a failing fold, or what fails when no alternative fits. */
export function explainFold(
  numbers: FoldNumbers,
  folded: FoldedNumbers,
  judgement: FoldJudgement,
  readings: readonly ChannelReading[],
  judging: FoldJudging,
): FoldCause {
  const found =
    nonFiniteCause(folded, judgement, judging.precision) ??
    notFoldedCause(numbers, folded) ??
    epsilonCause(numbers, folded, judgement, judging) ??
    axisCause(numbers, folded, judgement, readings, judging) ??
    biasCause(numbers, folded, judgement) ??
    channelsCause(folded, judgement) ??
    statisticsCause(numbers, folded, judgement) ??
    underflowCause(folded, judgement, judging.precision);
  if (found !== undefined) return found;
  const failing = failingChannels(judgement);
  const worst = judgement.weight.worstRatio >= judgement.bias.worstRatio ? judgement.weight : judgement.bias;
  return {
    kind: "unexplained",
    text:
      `W' and b' are not the fold of these parameters: ${failing.length} of ${numbers.mean.length} ` +
      `channels fail (worst: ${worst.name} channel ${worst.worstChannel}, error/allowance ` +
      `${formatNumber(Number(worst.worstRatio.toPrecision(3)))}); no other eps, axis, bias form ` +
      `or statistics explain it`,
  };
}
