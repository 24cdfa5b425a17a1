/**
 * Turns merged diff records into a `TensorComparison`, the report model of one checked tensor, and
 * compares two in-memory tensors with the same rule (`compareTensors`).
 */
import { compareInThread, mergeChannelDiffs } from "../kernel/batch-norm.js";
import { geometryOf, normalizeAxis } from "../core/layout.js";
import { planUnits, type UnitGrid } from "../kernel/units.js";
import {
  HISTOGRAM_LABELS,
  initDiffRecord,
  mergeDiffRecords,
  mergeWorst,
  mergeHistograms,
  readDiffRecord,
  type DiffRule,
} from "../kernel/diff.js";
import { D_FLAT_MISMATCHES, D_MAX_ABS, D_MAX_BOUND_RATIO, D_MISMATCHES, DIFF_RECORD_SIZE } from "../kernel/abi.js";
import { elementCount, unravelIndex, type ComputeDType, type FloatDType } from "../core/tensor.js";
import { UsageError } from "../core/errors.js";
import { resolveTolerance, type ResolvedTolerance } from "./tolerance.js";
import {
  BOUND_TERM_LABELS,
  boundTerms,
  channelAt,
  conditioning,
  dominantTerm,
  elementBound,
  type ChannelTable,
} from "./error-model.js";
import { CONSTANT_RUNS } from "../kernel/abi.js";

/**
 * The three outcomes of a check: within the flat tolerance; outside it but within what the
 * reference's own arithmetic can produce (the error model's bound); outside both.
 */
export type Verdict = "conforms" | "conforms within arithmetic" | "does not conform";

export function verdictOf(mismatches: number, flatMismatches: number, shapeMismatch = false): Verdict {
  if (shapeMismatch || mismatches > 0) return "does not conform";
  return flatMismatches > 0 ? "conforms within arithmetic" : "conforms";
}

/** The worse of several verdicts (a case's verdict from its tensors'). */
export function worstVerdict(verdicts: Iterable<Verdict>): Verdict {
  let worst: Verdict = "conforms";
  for (const verdict of verdicts) {
    if (verdict === "does not conform") return verdict;
    if (verdict === "conforms within arithmetic") worst = verdict;
  }
  return worst;
}

/** One element singled out by a statistic. */
export interface ElementReport {
  readonly index: number[];
  readonly flatIndex: number;
  readonly actual: number;
  readonly expected: number;
  readonly absError: number;
  readonly relError: number;
  /** atol + rtol·|expected|. */
  readonly allowed: number;
  /** The error model's bound B at this element (null when none applied); the allowance is max(allowed, bound). */
  readonly bound: number | null;
}

/** How the error model judged the elements outside the flat tolerance. */
export interface BoundReport {
  /** The precision whose arithmetic the bound describes. */
  readonly computeDtype: ComputeDType;
  /** Largest |error| / bound over the elements outside the flat tolerance; <= 1 conforms. */
  readonly maxRatio: number;
  readonly element: ElementReport | null;
  /** The bound's largest term at that element, in words (e.g. "rounding of the batch mean to float32"). */
  readonly dominantTerm: string | null;
}

export interface ChannelReport {
  readonly channel: number;
  readonly count: number;
  /** Outside the allowance max(flat tolerance, bound). */
  readonly mismatches: number;
  /** Outside the flat tolerance. */
  readonly flatMismatches: number;
  /** |μ|/σ of the statistics that normalised the channel (null for plain comparisons). */
  readonly conditioning: number | null;
  /** Largest |error| / bound over the channel's elements outside the flat tolerance (0 if none). */
  readonly boundRatio: number;
  /** The bound's largest term at that element, when the channel has elements outside the flat tolerance. */
  readonly dominantTerm: string | null;
  readonly maxAbsError: number;
  readonly maxRelError: number;
  readonly maxUlp: number;
}

export interface TensorComparison {
  readonly name: string;
  /** No element outside the allowance: verdict "conforms" or "conforms within arithmetic". */
  readonly passed: boolean;
  readonly verdict: Verdict;
  readonly shape: readonly number[];
  readonly expectedShape: readonly number[];
  readonly shapeMismatch: boolean;
  readonly expectedDtype: FloatDType;
  readonly ulpDtype: ComputeDType;
  readonly tolerance: ResolvedTolerance & { readonly equalNan: boolean };
  readonly count: number;
  /** Elements outside the allowance (max of the flat tolerance and the bound). */
  readonly mismatches: number;
  /** Elements outside the flat tolerance atol + rtol·|ref| (what --strict judges by). */
  readonly flatMismatches: number;
  readonly mismatchFraction: number;
  /** The error model's judgement; null under --strict and for plain comparisons without a model. */
  readonly bound: BoundReport | null;
  readonly nonFiniteMismatches: number;
  readonly meanAbsError: number;
  readonly maxAbsError: ElementReport | null;
  readonly maxRelError: ElementReport | null;
  readonly maxUlp: { readonly ulps: number; readonly element: ElementReport } | null;
  /** Smallest atol that passes at the given rtol, and smallest rtol that passes at the given atol. */
  readonly requiredAtol: number;
  readonly requiredRtol: number;
  readonly channelAxis: number | null;
  /** Channels the tensor has (on `channelAxis`). */
  readonly channelCount: number;
  /**
   * The per-channel table: every channel up to LISTED_CHANNELS channels (or with `allChannels`);
   * beyond that only channels outside the flat tolerance, the worst LISTED_CHANNELS of them.
   */
  readonly channels: readonly ChannelReport[];
  /** Channels outside the flat tolerance that the table leaves out (0 when it lists them all). */
  readonly channelsOmitted: number;
  readonly worst: readonly ElementReport[];
  /** Elements by distance in ulps of `ulpDtype` (powers of two), non-empty buckets only. */
  readonly ulpHistogram: readonly { readonly ulps: string; readonly count: number }[];
}

export interface SummarizeInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly expectedDtype: FloatDType;
  readonly rule: DiffRule;
  readonly tolerance: ResolvedTolerance;
  readonly channelAxis: number | null;
  /** One merged diff record per channel, in a Float64Array of channels × DIFF_RECORD_SIZE. */
  readonly channelRecords: Float64Array;
  readonly channelCount: number;
  readonly worst: readonly { excess: number; index: number }[];
  /** The error histogram over all elements (HISTOGRAM_BUCKETS counts; see `mergeHistograms`). */
  readonly histogram: readonly number[];
  readonly actualAt: (flatIndex: number) => number;
  readonly expectedAt: (flatIndex: number) => number;
  /** How the bound was made, when one was applied (names the conditioning and dominant terms). */
  readonly arithmetic?: BoundDescription;
  /** List every channel in the per-channel table, however many (default: see LISTED_CHANNELS). */
  readonly allChannels?: boolean;
}

/**
 * Channels the per-channel table lists at most unless asked for all: a tensor may have millions of
 * channels, and an object per channel in a report would cost far more memory than the data.
 */
export const LISTED_CHANNELS = 1024;

/**
 * The per-channel diff records of a pass, merged over the units that hold each channel. A wide
 * tensor (over LISTED_CHANNELS channels) whose channels each lie in one unit reads its records where
 * the pass wrote them instead of copying them (128 bytes a channel: 256 MB at 2^21 channels);
 * smaller tensors are merged as they always were.
 */
export function channelRecordsOf(grid: UnitGrid, records: Float64Array): Float64Array {
  if (readsRecordsInPlace(grid)) return records.subarray(0, grid.geometry.channels * DIFF_RECORD_SIZE);
  return mergeChannelDiffs(grid, records);
}

/** Whether `channelRecordsOf` reads a pass's records where it wrote them (a wide tensor, each channel in one unit). */
export function readsRecordsInPlace(grid: UnitGrid): boolean {
  return grid.geometry.channels > LISTED_CHANNELS && grid.outerBlocks * grid.innerBlocks === 1;
}

/** Which channels a report lists: all of a small tensor, else the worst of those outside the flat tolerance. */
function listedChannels(
  records: Float64Array,
  channelCount: number,
  allChannels: boolean,
): { listed: number[]; omitted: number } {
  if (allChannels || channelCount <= LISTED_CHANNELS)
    return { listed: Array.from({ length: channelCount }, (_, c) => c), omitted: 0 };
  const notable: number[] = [];
  for (let c = 0; c < channelCount; c++) if (records[c * DIFF_RECORD_SIZE + D_FLAT_MISMATCHES] > 0) notable.push(c);
  if (notable.length <= LISTED_CHANNELS) return { listed: notable, omitted: 0 };
  const severity = (c: number) => [
    records[c * DIFF_RECORD_SIZE + D_MISMATCHES],
    records[c * DIFF_RECORD_SIZE + D_MAX_BOUND_RATIO],
    records[c * DIFF_RECORD_SIZE + D_MAX_ABS],
  ];
  const worst = [...notable].sort((a, b) => {
    const [ma, ra, xa] = severity(a);
    const [mb, rb, xb] = severity(b);
    return mb - ma || rb - ra || xb - xa || a - b;
  });
  return { listed: worst.slice(0, LISTED_CHANNELS).sort((a, b) => a - b), omitted: notable.length - LISTED_CHANNELS };
}

/** What a report says about an applied bound. */
export interface BoundDescription {
  readonly computeDtype: ComputeDType;
  /** |μ|/σ of a channel, where statistics normalised it. */
  readonly conditioningOf?: (channel: number) => number;
  /** The bound's largest term at a flat index, in words. */
  readonly termAt: (flatIndex: number) => string | null;
  /** The bound B at a flat index. */
  readonly boundAt: (flatIndex: number) => number;
}

/** The description of a BatchNorm output's bound: per-channel statistics and the model's terms. */
export function batchNormBound(
  channels: ChannelTable,
  computeDtype: ComputeDType,
  inputAt: (flatIndex: number) => number,
  channelOf: (flatIndex: number) => number,
): BoundDescription {
  return {
    computeDtype,
    conditioningOf: (c) => conditioning(channels.mean[c], channels.variance[c]),
    termAt: (flatIndex) =>
      BOUND_TERM_LABELS[
        dominantTerm(boundTerms(channelAt(channels, channelOf(flatIndex)), computeDtype, inputAt(flatIndex)))
      ](computeDtype),
    boundAt: (flatIndex) => elementBound(channelAt(channels, channelOf(flatIndex)), computeDtype, inputAt(flatIndex)),
  };
}

function elementAt(input: SummarizeInput, flatIndex: number): ElementReport {
  const actual = input.actualAt(flatIndex);
  const expected = input.expectedAt(flatIndex);
  const absError = Math.abs(actual - expected);
  return {
    index: unravelIndex(flatIndex, input.shape),
    flatIndex,
    actual,
    expected,
    absError,
    relError: absError === 0 ? 0 : absError / Math.abs(expected),
    allowed: input.rule.atol + input.rule.rtol * Math.abs(expected),
    bound: input.arithmetic?.boundAt(flatIndex) ?? null,
  };
}

/** The bound's largest term at an element, in words. */
function dominantTermAt(input: SummarizeInput, flatIndex: number): string | null {
  const model = input.arithmetic;
  if (model === undefined || flatIndex < 0) return null;
  return model.termAt(flatIndex);
}

export function summarizeDiff(input: SummarizeInput): TensorComparison {
  const total = new Float64Array(DIFF_RECORD_SIZE);
  initDiffRecord(total, 0);
  const channels: ChannelReport[] = [];
  const model = input.arithmetic;
  mergeDiffRecords(total, 0, input.channelRecords, 0, input.channelCount, DIFF_RECORD_SIZE);
  const { listed, omitted } = listedChannels(input.channelRecords, input.channelCount, input.allChannels === true);
  for (const c of listed) {
    const channel = readDiffRecord(input.channelRecords, c * DIFF_RECORD_SIZE);
    channels.push({
      channel: c,
      count: channel.count,
      mismatches: channel.mismatches,
      flatMismatches: channel.flatMismatches,
      conditioning: model?.conditioningOf?.(c) ?? null,
      boundRatio: channel.maxBoundRatio,
      dominantTerm:
        channel.flatMismatches > channel.nonFiniteMismatches ? dominantTermAt(input, channel.maxBoundRatioIndex) : null,
      maxAbsError: channel.maxAbs,
      maxRelError: channel.maxRel,
      maxUlp: channel.maxUlp,
    });
  }
  const totals = readDiffRecord(total, 0);
  const pick = (index: number) => (index >= 0 ? elementAt(input, index) : null);
  const maxUlpElement = pick(totals.maxUlpIndex);
  return {
    name: input.name,
    passed: totals.mismatches === 0,
    verdict: verdictOf(totals.mismatches, totals.flatMismatches),
    flatMismatches: totals.flatMismatches,
    bound:
      model === undefined
        ? null
        : {
            computeDtype: model.computeDtype,
            maxRatio: totals.maxBoundRatio,
            element: pick(totals.maxBoundRatioIndex),
            dominantTerm: dominantTermAt(input, totals.maxBoundRatioIndex),
          },
    shape: input.shape,
    expectedShape: input.shape,
    shapeMismatch: false,
    expectedDtype: input.expectedDtype,
    ulpDtype: input.rule.ulpDtype,
    tolerance: { ...input.tolerance, equalNan: input.rule.equalNan },
    count: totals.count,
    mismatches: totals.mismatches,
    mismatchFraction: totals.count === 0 ? 0 : totals.mismatches / totals.count,
    nonFiniteMismatches: totals.nonFiniteMismatches,
    meanAbsError: totals.finitePairs === 0 ? 0 : totals.sumAbs / totals.finitePairs,
    maxAbsError: totals.maxAbs > 0 ? pick(totals.maxAbsIndex) : null,
    maxRelError: totals.maxRel > 0 ? pick(totals.maxRelIndex) : null,
    maxUlp: maxUlpElement === null || totals.maxUlp === 0 ? null : { ulps: totals.maxUlp, element: maxUlpElement },
    requiredAtol: totals.requiredAtol,
    requiredRtol: totals.requiredRtol,
    channelAxis: input.channelAxis,
    channelCount: input.channelCount,
    channels,
    channelsOmitted: omitted,
    worst: input.worst.map((entry) => elementAt(input, entry.index)),
    ulpHistogram: input.histogram
      .map((count, bucket) => ({ ulps: HISTOGRAM_LABELS[bucket], count }))
      .filter((bucket) => bucket.count > 0),
  };
}

/** The comparison of two tensors whose shapes differ: nothing element-wise can be said. */
export function shapeMismatch(
  name: string,
  shape: readonly number[],
  expectedShape: readonly number[],
  expectedDtype: FloatDType,
  rule: DiffRule,
  tolerance: ResolvedTolerance,
): TensorComparison {
  return {
    name,
    passed: false,
    verdict: "does not conform",
    flatMismatches: 0,
    bound: null,
    shape,
    expectedShape,
    shapeMismatch: true,
    expectedDtype,
    ulpDtype: rule.ulpDtype,
    tolerance: { ...tolerance, equalNan: rule.equalNan },
    count: 0,
    mismatches: 0,
    mismatchFraction: 1,
    nonFiniteMismatches: 0,
    meanAbsError: 0,
    maxAbsError: null,
    maxRelError: null,
    maxUlp: null,
    requiredAtol: Infinity,
    requiredRtol: Infinity,
    channelAxis: null,
    channelCount: 0,
    channels: [],
    channelsOmitted: 0,
    worst: [],
    ulpHistogram: [],
  };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, axis) => dim === b[axis]);
}

export interface CompareArraysInput {
  readonly name: string;
  readonly actual: ArrayLike<number>;
  readonly actualShape: readonly number[];
  readonly expected: ArrayLike<number>;
  readonly expectedShape: readonly number[];
  readonly expectedDtype: FloatDType;
  readonly rule: DiffRule;
  readonly tolerance: ResolvedTolerance;
  /** Axis that the per-channel table groups by; null for none. */
  readonly channelAxis: number | null;
  /** Per channel: an absolute error the arithmetic may make (the bound's constant term); none by default. */
  readonly boundPerChannel?: ArrayLike<number>;
  readonly arithmetic?: SummarizeInput["arithmetic"];
}

/**
 * Compares two tensors element-wise in this thread (running statistics, `compareTensors`), through
 * the same loop as the fused BN pass (`compareUnits` with y = x), so every path applies one rule.
 */
export function compareArrays(input: CompareArraysInput): TensorComparison {
  if (!sameShape(input.actualShape, input.expectedShape)) {
    return shapeMismatch(
      input.name,
      input.actualShape,
      input.expectedShape,
      input.expectedDtype,
      input.rule,
      input.tolerance,
    );
  }
  const shape = input.expectedShape;
  const geometry =
    input.channelAxis === null
      ? { outer: 1, channels: 1, inner: elementCount(shape) }
      : geometryOf(shape, input.channelAxis);
  const grid = planUnits(geometry);
  const identity = new Float64Array(CONSTANT_RUNS * geometry.channels);
  identity.fill(1, geometry.channels, 2 * geometry.channels);
  if (input.boundPerChannel !== undefined) identity.set(input.boundPerChannel, 3 * geometry.channels);
  const actual = asFloatArray(input.actual);
  const expected = asFloatArray(input.expected);
  const { records, worst, histograms } = compareInThread(actual, expected, identity, grid, input.rule);
  return summarizeDiff({
    name: input.name,
    shape,
    expectedDtype: input.expectedDtype,
    rule: input.rule,
    tolerance: input.tolerance,
    channelAxis: input.channelAxis,
    channelRecords: channelRecordsOf(grid, records),
    channelCount: geometry.channels,
    worst: mergeWorst(worst, grid.unitCount),
    histogram: mergeHistograms(histograms, grid.unitCount),
    actualAt: (i) => actual[i],
    expectedAt: (i) => expected[i],
    arithmetic: input.arithmetic,
  });
}

function asFloatArray(values: ArrayLike<number>): Float32Array | Float64Array {
  return values instanceof Float32Array || values instanceof Float64Array ? values : Float64Array.from(values);
}

/**
 * Compares a tensor with a reference under the bn-check rule (library entry for `diff`-style use).
 * @param options.channelAxis - group the per-channel table by this axis (negative counts from the end).
 */
export function compareTensors(
  actual: { readonly shape: readonly number[]; readonly data: ArrayLike<number> },
  expected: { readonly shape: readonly number[]; readonly data: ArrayLike<number>; readonly dtype: FloatDType },
  options: {
    atol?: number;
    rtol?: number;
    equalNan?: boolean;
    computeDtype?: ComputeDType;
    channelAxis?: number;
    name?: string;
  } = {},
): TensorComparison {
  const precision = options.computeDtype ?? expected.dtype;
  const tolerance = resolveTolerance(precision, { atol: options.atol, rtol: options.rtol });
  const rank = expected.shape.length;
  let channelAxis: number | null = null;
  if (options.channelAxis !== undefined) {
    channelAxis = normalizeAxis(options.channelAxis, rank);
    if (channelAxis === null)
      throw new UsageError(`channel axis ${options.channelAxis} is out of range for a rank-${rank} tensor`);
  }
  return compareArrays({
    name: options.name ?? "tensor",
    actual: actual.data,
    actualShape: actual.shape,
    expected: expected.data,
    expectedShape: expected.shape,
    expectedDtype: expected.dtype,
    rule: { atol: tolerance.atol, rtol: tolerance.rtol, equalNan: options.equalNan ?? false, ulpDtype: precision },
    tolerance,
    channelAxis,
  });
}
