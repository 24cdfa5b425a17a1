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
import { channelArithmetic, checkBatchNorm, type CheckRequest, type CheckTensors, type ConformanceResult } from "../check/check.js";
import { prepareBatchNorm } from "../check/prepare.js";

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
  readonly scaleError: number;
  readonly kappa: number;
}

/** A check with a forward reference and its comparison (what the output's hints look at). */
type WithReference = CheckTensors & { readonly reference: Tensor };
type WithOutput = ConformanceResult & { readonly output: TensorComparison };

/** Calls `visit(c, d, e)` for every finite error e = ref − y, with d = y − β, channel by channel. */
function forEachError(tensors: WithReference, result: WithOutput, limits: readonly ChannelLimits[], bias: ArrayLike<number>, visit: (c: number, d: number, e: number) => void): void {
  const shape = tensors.input.shape;
  let inner = 1;
  for (let k = result.params.channelAxis + 1; k < shape.length; k++) inner *= shape[k];
  const x = tensors.input.data;
  const ref = tensors.reference.data;
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / inner) % limits.length;
    const d = (x[i] - limits[c].mean) * limits[c].s;
    const e = ref[i] - (d + bias[c]);
    if (Number.isFinite(e)) visit(c, d, e);
  }
}

/** Per channel, the least-squares fit e ≈ a + k·d, then how much of the error it leaves. */
function fitChannels(tensors: WithReference, result: WithOutput, limits: readonly ChannelLimits[], bias: ArrayLike<number>): ChannelFit[] {
  const sums = limits.map(() => ({ n: 0, e: 0, d: 0, dd: 0, ed: 0 }));
  forEachError(tensors, result, limits, bias, (c, d, e) => {
    const t = sums[c];
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
  forEachError(tensors, result, limits, bias, (c, d, e) => {
    const fit = fits[c];
    fit.maxError = Math.max(fit.maxError, Math.abs(e));
    fit.maxResidual = Math.max(fit.maxResidual, Math.abs(e - fit.offset - fit.slope * d));
    fit.maxCentred = Math.max(fit.maxCentred, Math.abs(d));
  });
  return fits;
}

/** Offsets that a mean rounded to `dtype` would give: −(fl(μ) − μ)·s. */
function roundedMeanOffsets(limits: readonly ChannelLimits[], dtype: ComputeDType): number[] {
  return limits.map((l) => -(roundTo(dtype, l.mean) - l.mean) * l.s);
}

/**
 * Whether rounding the means explains the failures: the failing channels' offsets are the predicted
 * ones, and no channel that conforms was predicted an offset as large as a failing one's (a precision
 * story holds for every channel at once, or it does not fit the data: one channel shifted by chance
 * near its predicted offset is a channel that differs, not statistics kept in float16).
 */
function matchesOffsets(failing: readonly number[], fits: readonly ChannelFit[], predicted: readonly number[]): boolean {
  const explained = failing.filter((c) => predicted[c] !== 0 && Math.abs(fits[c].offset - predicted[c]) <= 0.25 * Math.abs(predicted[c]) && fits[c].maxResidual <= 0.5 * fits[c].maxError);
  if (failing.length === 0 || explained.length < 0.8 * failing.length) return false;
  const failingSet = new Set(failing);
  const smallestFailing = Math.min(...explained.map((c) => Math.abs(predicted[c])));
  return !predicted.some((offset, c) => !failingSet.has(c) && Math.abs(offset) >= smallestFailing);
}

/** A few channels fail and the others conform: say which, and how (a constant shift, a scale), not a precision story. */
function channelHints(failing: readonly number[], fits: readonly ChannelFit[], channels: number): string[] {
  if (failing.length === 0 || failing.length > Math.max(1, Math.floor(channels / 10)) || failing.length === channels) return [];
  return failing.slice(0, 3).map((c) => {
    const fit = fits[c];
    const others = `the other ${channels - failing.length} channel(s) conform`;
    if (fit.maxResidual <= 0.1 * fit.maxError)
      return `channel ${c} differs by a constant ${formatNumber(Number(fit.offset.toPrecision(3)))} (${others}): a shifted channel, not a convention or precision`;
    if (Math.abs(fit.slope) * fit.maxCentred >= 0.5 * fit.maxError) return `channel ${c} differs in scale: off by ${formatNumber(Number(fit.slope.toPrecision(3)))}·(y − β) (${others})`;
    return `channel ${c} differs (${others})`;
  });
}

/** The signature of known arithmetic breakdowns in the output's errors. */
function arithmeticSignatures(tensors: WithReference, result: WithOutput, computeDtype: ComputeDType, limits: readonly ChannelLimits[], bias: ArrayLike<number>): string[] {
  const fits = fitChannels(tensors, result, limits, bias);
  const failing = result.output.channels.filter((channel) => channel.mismatches > 0).map((channel) => channel.channel);
  if (failing.length === 0) return [];
  const hints: string[] = [];
  if (computeDtype !== "float16" && matchesOffsets(failing, fits, roundedMeanOffsets(limits, "float16"))) {
    hints.push(`the failing channels are off by the rounding of their batch mean to float16 (offsets (fl16(μ) − μ)·s): statistics kept in float16; compute them in float32 as the frameworks do`);
  } else if ((computeDtype === "float64" || computeDtype === "bfloat16") && matchesOffsets(failing, fits, roundedMeanOffsets(limits, "float32"))) {
    hints.push(
      `the failing channels are off by the rounding of their batch mean to float32 (offsets (fl32(μ) − μ)·s): a float32 mean of large data; if the reference is float32 arithmetic stored wider, say --compute-dtype float32`,
    );
  }
  // One-pass variance E[x²] − E[x]²: the scale is wrong (error ∝ y − β) where |μ|/σ is large, and
  // only there: well-conditioned channels conform.
  const sloped = failing.filter((c) => Math.abs(fits[c].slope) * fits[c].maxCentred >= 0.5 * fits[c].maxError && Math.abs(fits[c].slope) > limits[c].scaleError);
  const wellConditionedFail = failing.some((c) => limits[c].kappa < 10);
  if (hints.length === 0 && sloped.length >= 0.8 * failing.length && !wellConditionedFail && result.params.mode === "train") {
    const minKappa = sloped.reduce((least, c) => Math.min(least, limits[c].kappa), Infinity);
    const worstSlope = sloped.reduce((most, c) => Math.max(most, Math.abs(fits[c].slope)), 0);
    hints.push(
      `the error grows with y − β (the scale γ/√(σ² + ε) is off by up to ${formatNumber(worstSlope)} relative) in ${sloped.length} ill-conditioned channel(s) (|mean|/std ≥ ${formatNumber(Number(minKappa.toPrecision(2)))}), beyond what a two-pass or Welford variance can be off by: the signature of a one-pass variance E[x²] − E[x]² (Flax use_fast_variance=True, Keras 3 moments), which cancels catastrophically there`,
    );
  }
  if (hints.length === 0) hints.push(...channelHints(failing, fits, limits.length));
  return hints;
}

/** Other conventions under which the output conforms: channel axis, eps, mode. */
async function conventionAlternatives(tensors: WithReference, request: CheckRequest, result: WithOutput): Promise<string[]> {
  const shape = tensors.input.shape;
  const params = result.params;
  const perChannelLength = tensors.weight?.shape[0] ?? tensors.bias?.shape[0] ?? tensors.runningMean?.shape[0];
  const outputOnly: CheckTensors = { ...tensors, referenceRunningMean: null, referenceRunningVar: null };
  const tries: { readonly option: string; readonly request: CheckRequest }[] = [];
  for (const { channelAxis, option } of otherChannelAxes(shape, params.channelAxis, perChannelLength)) tries.push({ option, request: { ...request, layout: undefined, channelAxis } });
  for (const epsilon of otherEpsilons(params.epsilon, "frameworks")) tries.push({ option: `--eps ${epsilon}`, request: { ...request, epsilon } });
  if (tensors.runningMean != null && tensors.runningVar != null) {
    const mode = otherMode(params.mode);
    tries.push({ option: `--mode ${mode}`, request: { ...request, mode } });
  }
  const hints: string[] = [];
  for (const attempt of tries) {
    try {
      const alternative = await checkBatchNorm(outputOnly, attempt.request);
      if (alternative.output?.passed === true) hints.push(`the output conforms with ${attempt.option}: run \`bn-check detect\` for more`);
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
export async function explainNonConformance(given: CheckTensors, request: CheckRequest, checked: ConformanceResult): Promise<string[]> {
  const { output } = checked;
  const { reference } = given;
  if (output === null || reference == null || output.passed || output.shapeMismatch) return [];
  const tensors: WithReference = { ...given, reference };
  const result: WithOutput = { ...checked, output };
  const computeDtype = output.ulpDtype;
  const prepared = await prepareBatchNorm(tensors, request);
  const table = channelArithmetic(prepared, tensors);
  const channels = Array.from({ length: table.length }, (_, c) => channelAt(table, c));
  const limits = channels.map((channel) => {
    const bound = channelBound(channel, UNIT_ROUNDOFF[computeDtype]);
    return { s: bound.s, mean: channel.mean, variance: channel.variance, scaleError: bound.perAbsCentred, kappa: channel.mean === 0 ? 0 : Math.abs(channel.mean) / Math.sqrt(channel.variance) };
  });
  const bias = channels.map((channel) => channel.bias);
  const hints = request.strict ? [] : arithmeticSignatures(tensors, result, computeDtype, limits, bias);
  return [...hints, ...(await conventionAlternatives(tensors, request, result))];
}
