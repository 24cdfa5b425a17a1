/**
 * Why a reference does not conform, when a quick look can tell: the signature of a known arithmetic
 * breakdown in its errors, or another convention under which it conforms. Runs only after a
 * failed check (it costs a few more passes), and says at most a line per finding.
 */
import { UNIT_ROUNDOFF, channelAt, channelBound } from "../check/error-model.js";
import { otherChannelAxes, otherEpsilons, otherMode } from "../conventions/alternatives.js";
import type { ComputeDType, Tensor } from "../core/tensor.js";
import type { TensorComparison } from "../check/compare.js";
import { roundTo } from "../core/formats.js";
import { formatNumber } from "../core/format.js";
import {
  channelArithmetic,
  checkBatchNorm,
  type CheckRequest,
  type CheckTensors,
  type ConformanceResult,
} from "../check/check.js";
import { prepareBatchNorm } from "../check/prepare.js";
import { arenaOf } from "../core/arena.js";

/** Per channel: the error e = ref − y fitted as a + k·(y − β). */
interface ChannelFit {
  readonly offset: number;
  readonly slope: number;
  /** Largest |e| and largest |e − a − k·(y − β)|. */
  readonly maxError: number;
  readonly maxResidual: number;
  readonly maxCentred: number;
}

/** What a stable implementation may be off by, per channel (from the error model). */
interface ChannelLimits {
  readonly s: number;
  readonly mean: number;
  readonly variance: number;
  readonly bias: number;
  readonly scaleError: number;
  readonly kappa: number;
}

/** A check with a forward reference and its comparison (what the output's hints look at). */
type WithReference = CheckTensors & { readonly reference: Tensor };
type WithOutput = ConformanceResult & { readonly output: TensorComparison };

/**
 * Each channel's limits, computed when asked (a tensor may have millions of channels: an object per
 * channel would cost far more memory than the data).
 */
interface Limits {
  readonly length: number;
  at(c: number): ChannelLimits;
}

/**
 * Calls `visit(slot, d, e)` for every finite error e = ref − y of the channels asked about, with d =
 * y − β, in element order; `slot` is the channel's place in `channels`.
 */
function forEachError(
  tensors: WithReference,
  result: WithOutput,
  limits: Limits,
  channels: readonly number[],
  visit: (slot: number, d: number, e: number) => void,
): void {
  const shape = tensors.input.shape;
  let inner = 1;
  for (let k = result.params.channelAxis + 1; k < shape.length; k++) inner *= shape[k];
  const x = tensors.input.data;
  const ref = tensors.reference.data;
  const slots = new Map<number, { slot: number; limits: ChannelLimits }>();
  for (const [slot, c] of channels.entries()) slots.set(c, { slot, limits: limits.at(c) });
  for (let i = 0; i < x.length; i++) {
    const asked = slots.get(Math.floor(i / inner) % limits.length);
    if (asked === undefined) continue;
    const d = (x[i] - asked.limits.mean) * asked.limits.s;
    const e = ref[i] - (d + asked.limits.bias);
    if (Number.isFinite(e)) visit(asked.slot, d, e);
  }
}

/** For the channels asked about, the least-squares fit e ≈ a + k·d, then how much of the error it leaves. */
function fitChannels(
  tensors: WithReference,
  result: WithOutput,
  limits: Limits,
  channels: readonly number[],
): Map<number, ChannelFit> {
  const sums = channels.map(() => ({ n: 0, e: 0, d: 0, dd: 0, ed: 0 }));
  forEachError(tensors, result, limits, channels, (slot, d, e) => {
    const t = sums[slot];
    t.n++;
    t.e += e;
    t.d += d;
    t.dd += d * d;
    t.ed += e * d;
  });
  const fits = sums.map((t) => {
    const meanD = t.n === 0 ? 0 : t.d / t.n;
    const varD = t.n === 0 ? 0 : t.dd / t.n - meanD * meanD;
    const slope = varD > 0 ? (t.ed / t.n - (t.e / t.n) * meanD) / varD : 0;
    return { offset: t.n === 0 ? 0 : t.e / t.n - slope * meanD, slope, maxError: 0, maxResidual: 0, maxCentred: 0 };
  });
  forEachError(tensors, result, limits, channels, (slot, d, e) => {
    const fit = fits[slot];
    fit.maxError = Math.max(fit.maxError, Math.abs(e));
    fit.maxResidual = Math.max(fit.maxResidual, Math.abs(e - fit.offset - fit.slope * d));
    fit.maxCentred = Math.max(fit.maxCentred, Math.abs(d));
  });
  return new Map(channels.map((c, slot) => [c, fits[slot]]));
}

/** The offset a mean rounded to `dtype` would give channel c: −(fl(μ) − μ)·s. */
function roundedMeanOffset(limits: Limits, c: number, dtype: ComputeDType): number {
  const l = limits.at(c);
  return -(roundTo(dtype, l.mean) - l.mean) * l.s;
}

/**
 * Whether rounding the means explains the failures: the failing channels' offsets are the predicted
 * ones, and no channel that conforms was predicted an offset as large as a failing one's (a precision
 * story holds for every channel at once, or it does not fit the data: one channel shifted by chance
 * near its predicted offset is a channel that differs, not statistics kept in float16).
 */
function matchesOffsets(
  failing: readonly number[],
  fits: ReadonlyMap<number, ChannelFit>,
  limits: Limits,
  dtype: ComputeDType,
): boolean {
  const predicted = (c: number) => roundedMeanOffset(limits, c, dtype);
  const explained = failing.filter((c) => {
    const fit = fits.get(c) as ChannelFit;
    const offset = predicted(c);
    return (
      offset !== 0 && Math.abs(fit.offset - offset) <= 0.25 * Math.abs(offset) && fit.maxResidual <= 0.5 * fit.maxError
    );
  });
  if (failing.length === 0 || explained.length < 0.8 * failing.length) return false;
  const failingSet = new Set(failing);
  const smallestFailing = explained.reduce((least, c) => Math.min(least, Math.abs(predicted(c))), Infinity);
  for (let c = 0; c < limits.length; c++)
    if (!failingSet.has(c) && Math.abs(predicted(c)) >= smallestFailing) return false;
  return true;
}

/**
 * A few channels fail and the others conform: say which, and how (a constant shift, a scale), not a precision story.
 */
function channelHints(failing: readonly number[], fits: ReadonlyMap<number, ChannelFit>, channels: number): string[] {
  if (failing.length === 0 || failing.length > Math.max(1, Math.floor(channels / 10)) || failing.length === channels)
    return [];
  return failing.slice(0, 3).map((c) => {
    const fit = fits.get(c) as ChannelFit;
    const others = `the other ${channels - failing.length} channel(s) conform`;
    if (fit.maxResidual <= 0.1 * fit.maxError)
      return (
        `channel ${c} differs by a constant ${formatNumber(Number(fit.offset.toPrecision(3)))}` +
        ` (${others}): a shifted channel, not a convention or precision`
      );
    if (Math.abs(fit.slope) * fit.maxCentred >= 0.5 * fit.maxError)
      return (
        `channel ${c} differs in scale: off by ${formatNumber(Number(fit.slope.toPrecision(3)))}` +
        `·(y − β) (${others})`
      );
    return `channel ${c} differs (${others})`;
  });
}

/** The signature of known arithmetic breakdowns in the output's errors. */
function arithmeticSignatures(
  tensors: WithReference,
  result: WithOutput,
  computeDtype: ComputeDType,
  limits: Limits,
): string[] {
  // The failing channels the report lists (at most LISTED_CHANNELS of them, the worst): fits are
  // made for those only.
  const failing = result.output.channels.filter((channel) => channel.mismatches > 0).map((channel) => channel.channel);
  if (failing.length === 0) return [];
  const fits = fitChannels(tensors, result, limits, failing);
  const fitOf = (c: number) => fits.get(c) as ChannelFit;
  const hints: string[] = [];
  if (computeDtype !== "float16" && matchesOffsets(failing, fits, limits, "float16")) {
    hints.push(
      `the failing channels are off by the rounding of their batch mean to float16 (offsets (fl16(μ) ` +
        `− μ)·s): statistics kept in float16; compute them in float32 as the frameworks do`,
    );
  } else if (
    (computeDtype === "float64" || computeDtype === "bfloat16") &&
    matchesOffsets(failing, fits, limits, "float32")
  ) {
    hints.push(
      `the failing channels are off by the rounding of their batch mean to float32 (offsets (fl32(μ) − μ)·s): a ` +
        `float32 mean of large data; if the reference is float32 arithmetic stored wider, say --compute-dtype float32`,
    );
  }
  // One-pass variance E[x²] − E[x]²: the scale is wrong (error ∝ y − β) where |μ|/σ is large, and
  // only there: well-conditioned channels conform.
  const sloped = failing.filter(
    (c) =>
      Math.abs(fitOf(c).slope) * fitOf(c).maxCentred >= 0.5 * fitOf(c).maxError &&
      Math.abs(fitOf(c).slope) > limits.at(c).scaleError,
  );
  const wellConditionedFail = failing.some((c) => limits.at(c).kappa < 10);
  if (
    hints.length === 0 &&
    sloped.length >= 0.8 * failing.length &&
    !wellConditionedFail &&
    result.params.mode === "train"
  ) {
    const minKappa = sloped.reduce((least, c) => Math.min(least, limits.at(c).kappa), Infinity);
    const worstSlope = sloped.reduce((most, c) => Math.max(most, Math.abs(fitOf(c).slope)), 0);
    hints.push(
      `the error grows with y − β (the scale γ/√(σ² + ε) is off by up to ` +
        `${formatNumber(worstSlope)} relative) in ${sloped.length} ill-conditioned channel(s) ` +
        `(|mean|/std ≥ ${formatNumber(Number(minKappa.toPrecision(2)))}), beyond what a two-pass ` +
        `or Welford variance can be off by: the signature of a one-pass variance E[x²] − E[x]² ` +
        `(Flax use_fast_variance=True, Keras 3 moments), which cancels catastrophically there`,
    );
  }
  if (hints.length === 0) hints.push(...channelHints(failing, fits, limits.length));
  return hints;
}

/** Other conventions under which the output conforms: channel axis, eps, mode. */
async function conventionAlternatives(
  tensors: WithReference,
  request: CheckRequest,
  result: WithOutput,
): Promise<string[]> {
  const shape = tensors.input.shape;
  const params = result.params;
  const perChannelLength = tensors.weight?.shape[0] ?? tensors.bias?.shape[0] ?? tensors.runningMean?.shape[0];
  const outputOnly: CheckTensors = { ...tensors, referenceRunningMean: null, referenceRunningVar: null };
  const tries: { readonly option: string; readonly request: CheckRequest }[] = [];
  for (const { channelAxis, option } of otherChannelAxes(shape, params.channelAxis, perChannelLength))
    tries.push({ option, request: { ...request, layout: undefined, channelAxis } });
  for (const epsilon of otherEpsilons(params.epsilon, "frameworks"))
    tries.push({ option: `--eps ${epsilon}`, request: { ...request, epsilon } });
  if (tensors.runningMean != null && tensors.runningVar != null) {
    const mode = otherMode(params.mode);
    tries.push({ option: `--mode ${mode}`, request: { ...request, mode } });
  }
  const hints: string[] = [];
  // Each alternative is a whole check, kept for its verdict only (checkBatchNorm gives its arena
  // memory back when it returns).
  for (const attempt of tries) {
    try {
      const alternative = await checkBatchNorm(outputOnly, attempt.request);
      if (alternative.output?.passed === true)
        hints.push(`the output conforms with ${attempt.option}: run \`bn-check detect\` for more`);
    } catch {
      // An alternative the tensors do not fit (a per-channel length, a mode without statistics) says nothing.
    }
    if (hints.length >= 2) break;
  }
  return hints;
}

/**
 * @returns at most a few one-line hints on why the output does not conform (none when it conforms,
 *   its shape differs, or nothing quick explains it).
 */
export async function explainNonConformance(
  given: CheckTensors,
  request: CheckRequest,
  checked: ConformanceResult,
): Promise<string[]> {
  const { output } = checked;
  const { reference } = given;
  if (output === null || reference == null || output.passed || output.shapeMismatch) return [];
  const tensors: WithReference = { ...given, reference };
  const result: WithOutput = { ...checked, output };
  const computeDtype = output.ulpDtype;
  // The statistics prepared here serve the signatures only: they go back to the arena after them.
  const arena = arenaOf(tensors.input.data);
  const mark = arena?.mark();
  const prepared = await prepareBatchNorm(tensors, request);
  const table = channelArithmetic(prepared, tensors);
  const limits: Limits = {
    length: table.length,
    at: (c) => {
      const channel = channelAt(table, c);
      const bound = channelBound(channel, UNIT_ROUNDOFF[computeDtype]);
      return {
        s: bound.s,
        mean: channel.mean,
        variance: channel.variance,
        bias: channel.bias,
        scaleError: bound.perAbsCentred,
        kappa: channel.mean === 0 ? 0 : Math.abs(channel.mean) / Math.sqrt(channel.variance),
      };
    },
  };
  const hints = request.strict ? [] : arithmeticSignatures(tensors, result, computeDtype, limits);
  if (arena !== null && mark !== undefined) arena.rewind(mark);
  return [...hints, ...(await conventionAlternatives(tensors, request, result))];
}
