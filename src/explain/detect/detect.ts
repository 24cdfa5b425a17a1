/**
 * `detect`: which convention produced a reference? Searches presets × channel axes × modes × eps
 * (defaults, floors, a fitted value) × affine × known wrong implementations. The batch statistics
 * are computed once per channel axis and shared by every candidate; candidates are first ranked on
 * a prefix of the data, and the best are then checked on all of it with the parallel compare pass.
 */
import { channelRecordsOf, LISTED_CHANNELS, summarizeDiff, type TensorComparison } from "../../check/compare.js";
import {
  channelAt,
  channelBound,
  runningUpdateBound,
  UNIT_ROUNDOFF,
  writeBoundCoefficients,
  type ChannelTable,
} from "../../check/error-model.js";
import { checkRunningStat } from "../../check/check.js";
import { runningUpdate } from "../../check/prepare.js";
import { resolveTolerance } from "../../check/tolerance.js";
import { defaultEpsilons, runningVarianceEstimator } from "../../conventions/alternatives.js";
import { conventions, type FrameworkName } from "../../conventions/index.js";
import { type BatchNormParams, epsilonRaised, resolveConvention, type Mode } from "../../conventions/resolve.js";
import { compareInThread, mergeChannelStats } from "../../kernel/batch-norm.js";
import { CONSTANT_RUNS } from "../../kernel/abi.js";
import { mergeHistograms, mergeWorst, type DiffRule } from "../../kernel/diff.js";
import { describeLayout, geometryOf, type Geometry } from "../../core/layout.js";
import { planUnits } from "../../kernel/units.js";
import type { ComputeDType, Tensor } from "../../core/tensor.js";
import { UsageError } from "../../core/errors.js";
import {
  DEFAULT_PARALLEL_THRESHOLD,
  planExecution,
  releaseScratch,
  runPass,
  type ExecutionOptions,
} from "../../parallel/executor.js";
import { sharedFloat64, toShared } from "../../parallel/shared-tensor.js";
import { formatNumber } from "../../core/format.js";
import { diagnose } from "./diagnose.js";
import { referenceOrders, unpermute } from "./reference-order.js";
import {
  arithmeticKey,
  type Candidate,
  type CandidateSpec,
  type ClaimedConvention,
  FLAW_DESCRIPTIONS,
  type Flaw,
} from "./candidates.js";

export type { Candidate, ClaimedConvention } from "./candidates.js";
import { fitEpsilon, fitRunningStats, type RunningStatsFit } from "./fit.js";
import { C_OFFSET, C_SCALE, C_SHIFT } from "../../kernel/abi.js";

export const DETECT_PRESETS = [
  "torch",
  "tf",
  "keras3",
  "tf-nn",
  "onnx",
  "flax",
] as const satisfies readonly FrameworkName[];
const SAMPLE_ELEMENTS = 1 << 16;
/**
 * At most this many candidates are checked on the whole tensor: those that conform on the prefix, else the closest few.
 */
const FULL_CHECKS = 10;
const FULL_CHECKS_WITHOUT_MATCH = 8;

export interface DetectTensors {
  readonly input: Tensor;
  readonly reference: Tensor;
  readonly weight?: Tensor | null;
  readonly bias?: Tensor | null;
  readonly runningMean?: Tensor | null;
  readonly runningVar?: Tensor | null;
  readonly referenceRunningMean?: Tensor | null;
  readonly referenceRunningVar?: Tensor | null;
}

export interface DetectOptions extends ExecutionOptions {
  readonly claimed?: ClaimedConvention;
  /** The precision the reference was computed in (selects the default tolerance and the ulps). */
  readonly computeDtype?: ComputeDType;
  /** Tolerance that decides "conforms" (default: torch.testing's for the precision). */
  readonly atol?: number;
  readonly rtol?: number;
  /** Judge candidates by the flat tolerance alone (no error model). */
  readonly strict?: boolean;
}

export interface DetectResult {
  readonly best: Candidate;
  readonly equivalent: readonly Candidate[];
  readonly candidates: readonly Candidate[];
  readonly fittedEpsilon: readonly {
    readonly channelAxis: number;
    readonly mode: Mode;
    readonly value: number;
    readonly consistent: boolean;
  }[];
  readonly runningStats: RunningStatsFit | null;
  readonly diagnosis: string;
  readonly tolerance: { readonly atol: number; readonly rtol: number; readonly source: string };
}

interface AxisStats {
  readonly axis: number;
  readonly geometry: Geometry;
  readonly mean: Float64Array;
  readonly biased: Float64Array;
  readonly unbiased: Float64Array;
  readonly count: number;
}

/** A candidate's statistics, as the error model needs them. */
function arithmeticFor(spec: CandidateSpec, stats: AxisStats, tensors: DetectTensors): ChannelTable {
  const train = spec.mode === "train";
  return {
    length: stats.geometry.channels,
    count: train ? stats.count : 0,
    mean: train ? stats.mean : tensors.runningMean!.data,
    variance: train
      ? spec.flaw === "unbiased-normalization"
        ? stats.unbiased
        : stats.biased
      : tensors.runningVar!.data,
    epsilon: spec.epsilon,
    weight: spec.affine && tensors.weight ? tensors.weight.data : null,
    bias: spec.affine && tensors.bias ? tensors.bias.data : null,
    batchStatistics: train,
  };
}

/**
 * A candidate's affine constants and, unless strict, its error-model
 * coefficients (so candidates are judged as compare judges).
 */
function constantsFor(
  spec: CandidateSpec,
  stats: AxisStats,
  tensors: DetectTensors,
  computeDtype: ComputeDType | null,
): Float64Array {
  const channels = stats.geometry.channels;
  const constants = sharedFloat64(CONSTANT_RUNS * channels);
  if (computeDtype !== null) writeBoundCoefficients(arithmeticFor(spec, stats, tensors), computeDtype, constants);
  for (let c = 0; c < channels; c++) {
    const train = spec.mode === "train";
    const mean = train ? stats.mean[c] : tensors.runningMean!.data[c];
    const variance = train
      ? spec.flaw === "unbiased-normalization"
        ? stats.unbiased[c]
        : stats.biased[c]
      : tensors.runningVar!.data[c];
    const gamma = spec.affine && tensors.weight ? tensors.weight.data[c] : 1;
    let scale: number;
    if (spec.flaw === "eps-on-std") scale = 1 / (Math.sqrt(variance) + spec.epsilon);
    else if (spec.flaw === "normalized-twice") {
      const once = variance / (variance + spec.epsilon); // the variance after the first normalisation
      scale = 1 / Math.sqrt(variance + spec.epsilon) / Math.sqrt(once + spec.epsilon);
    } else scale = 1 / Math.sqrt(variance + spec.epsilon);
    constants[C_SHIFT * channels + c] = mean;
    constants[C_SCALE * channels + c] = gamma * scale;
    constants[C_OFFSET * channels + c] = spec.affine && tensors.bias ? tensors.bias.data[c] : 0;
  }
  return constants;
}

/** y at a flat index under a candidate's constants (for the elements a report names). */
function affineAt(
  input: ArrayLike<number>,
  constants: Float64Array,
  { channels, inner }: Geometry,
): (index: number) => number {
  return (index) => {
    const c = Math.floor(index / inner) % channels;
    return (
      (input[index] - constants[C_SHIFT * channels + c]) * constants[C_SCALE * channels + c] +
      constants[C_OFFSET * channels + c]
    );
  };
}

/**
 * The eps a preset stands for in the search: as asked for (after a floor), not as ONNX holds it in
 * float32. The 2.5e-13 between 1e-5 and float32(1e-5) is no evidence about the framework, and
 * searching both would split candidates that are one (torch, onnx and flax at eps 1e-5).
 */
function searchedEpsilon(params: BatchNormParams): number {
  return epsilonRaised(params) ? params.epsilon : params.requestedEpsilon;
}

/** How a preset comes to this eps: its default, its floor, or neither (fitted or given). */
function epsilonSourceFor(
  framework: string,
  spec: CandidateSpec,
  shape: readonly number[],
): CandidateSpec["epsilonSource"] {
  if (!(framework in conventions)) return spec.epsilonSource;
  const convention = conventions[framework as FrameworkName];
  const params = resolveConvention(convention, shape, { channelAxis: spec.channelAxis, mode: spec.mode });
  if (searchedEpsilon(params) === spec.epsilon) return "default";
  const floor = params.variant !== null ? convention.variants.find((v) => v.id === params.variant)?.epsilonFloor : null;
  if (floor === spec.epsilon) return "floor";
  return spec.epsilonSource === "default" || spec.epsilonSource === "floor" ? "given" : spec.epsilonSource;
}

function plausibleAxes(tensors: DetectTensors): number[] {
  const shape = tensors.input.shape;
  const length = tensors.weight?.shape[0] ?? tensors.bias?.shape[0] ?? tensors.runningMean?.shape[0];
  const axes: number[] = [];
  for (let axis = 1; axis < shape.length; axis++) if (length === undefined || shape[axis] === length) axes.push(axis);
  return axes;
}

function candidateSpecs(
  tensors: DetectTensors,
  axes: readonly number[],
  fitted: Map<string, number>,
  claimed: ClaimedConvention | undefined,
): CandidateSpec[] {
  const specs: CandidateSpec[] = [];
  const modes: Mode[] = tensors.runningMean && tensors.runningVar ? ["train", "eval"] : ["train"];
  const affineOptions = tensors.weight || tensors.bias ? [true, false] : [true];
  for (const axis of axes) {
    for (const mode of modes) {
      for (const name of DETECT_PRESETS) {
        const params = resolveConvention(conventions[name], tensors.input.shape, { channelAxis: axis, mode });
        const epsilons: [number, CandidateSpec["epsilonSource"]][] = [[searchedEpsilon(params), "default"]];
        const floor =
          params.variant !== null
            ? conventions[name].variants.find((v) => v.id === params.variant)?.epsilonFloor
            : null;
        if (floor) epsilons.push([floor, "floor"]);
        for (const [epsilon, epsilonSource] of epsilons) {
          for (const affine of affineOptions)
            specs.push({ frameworks: [name], mode, channelAxis: axis, epsilon, epsilonSource, affine, flaw: null });
        }
      }
      const extra: [number | undefined, CandidateSpec["epsilonSource"]][] = [
        [fitted.get(`${mode}|${axis}`), "fitted"],
        [claimed?.epsilon, "given"],
      ];
      for (const [epsilon, epsilonSource] of extra) {
        if (epsilon === undefined || !(epsilon > 0)) continue;
        for (const affine of affineOptions)
          specs.push({
            frameworks: [...DETECT_PRESETS],
            mode,
            channelAxis: axis,
            epsilon,
            epsilonSource,
            affine,
            flaw: null,
          });
      }
      if (mode === "train") {
        for (const flaw of Object.keys(FLAW_DESCRIPTIONS) as Flaw[]) {
          for (const epsilon of defaultEpsilons())
            specs.push({
              frameworks: [],
              mode,
              channelAxis: axis,
              epsilon,
              epsilonSource: "default",
              affine: true,
              flaw,
            });
        }
      }
    }
  }
  // Candidates that compute the same numbers are one candidate explained by several presets.
  const merged = new Map<string, CandidateSpec>();
  for (const spec of specs) {
    const key = arithmeticKey(spec);
    const existing = merged.get(key);
    if (existing === undefined) merged.set(key, spec);
    else merged.set(key, { ...existing, frameworks: [...new Set([...existing.frameworks, ...spec.frameworks])] });
  }
  return [...merged.values()];
}

/**
 * The statistics a candidate is ranked with. A row of a wide tensor (over LISTED_CHANNELS channels
 * and SAMPLE_ELEMENTS elements) is no prefix: ranking each candidate on it cost a pass over half of
 * 2 x 2^21 and per-channel records and constants for every channel. There the prefix is the first
 * row's leading channels (the same elements for every candidate, SAMPLE_ELEMENTS of them or
 * LISTED_CHANNELS channels); the best candidates are still checked on every channel.
 */
function sampleStats(stats: AxisStats): AxisStats {
  const { channels, inner } = stats.geometry;
  if (channels <= LISTED_CHANNELS || channels * inner <= SAMPLE_ELEMENTS) return stats;
  const kept = Math.min(channels, Math.max(LISTED_CHANNELS, Math.floor(SAMPLE_ELEMENTS / Math.max(1, inner))));
  return {
    ...stats,
    geometry: { ...stats.geometry, outer: 1, channels: kept },
    mean: stats.mean.subarray(0, kept),
    biased: stats.biased.subarray(0, kept),
    unbiased: stats.unbiased.subarray(0, kept),
  };
}

/** What every step of the search shares: the data, the statistics per axis, the rule that judges. */
interface SearchContext {
  readonly tensors: DetectTensors;
  readonly shape: readonly number[];
  readonly inputData: Float32Array | Float64Array;
  readonly precision: ComputeDType;
  readonly tolerance: ReturnType<typeof resolveTolerance>;
  readonly rule: DiffRule;
  readonly options: DetectOptions;
  readonly stats: ReadonlyMap<number, AxisStats>;
}

/** A candidate evaluated on the data's prefix, against one storage order of the reference. */
interface Sampled {
  readonly spec: CandidateSpec;
  readonly summary: TensorComparison;
  readonly order: ReferenceOrder;
}

type ReferenceOrder = { name: string; data: Float32Array | Float64Array };

/** The reference in the input's element order, and in each transposition its shape allows. */
function referenceOrdersOf(reference: Tensor, shape: readonly number[]): ReferenceOrder[] {
  const orders = referenceOrders(shape.length)
    .map((order) => ({
      name: order.name,
      data:
        order.name === ""
          ? reference.shape.join() === shape.join()
            ? toShared(reference.data)
            : null
          : unpermute(reference, shape, order.perm),
    }))
    .filter((order): order is ReferenceOrder => order.data !== null);
  if (orders.length === 0)
    throw new UsageError(
      `the reference's shape [${reference.shape.join(", ")}] is neither the ` +
        `input's [${shape.join(", ")}] nor a channels-first/last transposition of it`,
    );
  return orders;
}

/** Batch statistics once per axis, shared by every candidate on that axis. */
async function axisStatistics(
  inputData: Float32Array | Float64Array,
  shape: readonly number[],
  axes: readonly number[],
  options: DetectOptions,
): Promise<Map<number, AxisStats>> {
  const stats = new Map<number, AxisStats>();
  for (const axis of axes) {
    const geometry = geometryOf(shape, axis);
    const grid = planUnits(geometry);
    const merged = mergeChannelStats(
      grid,
      (await runPass("stats", { input: inputData }, grid, null, planExecution(grid, options), options)).arrays.partials,
    );
    const count = merged.count[0] ?? 0;
    stats.set(axis, {
      axis,
      geometry,
      mean: merged.mean,
      biased: merged.m2.map((m2, c) => m2 / merged.count[c]),
      unbiased: merged.m2.map((m2, c) => m2 / Math.max(merged.count[c] - 1, 1)),
      count,
    });
  }
  return stats;
}

/** The eps that explains the output, fitted per axis and mode (a consistent fit becomes a candidate). */
function fitEpsilons(context: SearchContext, referenceData: Float32Array | Float64Array) {
  const { tensors, inputData, stats } = context;
  const fitted = new Map<string, number>();
  const fittedEpsilon: DetectResult["fittedEpsilon"][number][] = [];
  for (const axisStats of stats.values()) {
    const modes: Mode[] = tensors.runningMean && tensors.runningVar ? ["train", "eval"] : ["train"];
    for (const mode of modes) {
      const mean = mode === "train" ? axisStats.mean : tensors.runningMean!.data;
      const variance = mode === "train" ? axisStats.biased : tensors.runningVar!.data;
      const fit = fitEpsilon(
        inputData,
        referenceData,
        axisStats.geometry,
        mean,
        variance,
        tensors.weight?.data ?? null,
        tensors.bias?.data ?? null,
        4096,
      );
      if (fit === null) continue;
      fittedEpsilon.push({ channelAxis: axisStats.axis, mode, value: fit.value, consistent: fit.consistent });
      if (fit.consistent) fitted.set(`${mode}|${axisStats.axis}`, fit.value);
    }
  }

  return { fitted, fittedEpsilon };
}

/** Every candidate on a prefix of the data (the same prefix for all), best first. */
function rankOnPrefix(
  context: SearchContext,
  specs: readonly CandidateSpec[],
  orders: readonly ReferenceOrder[],
): Sampled[] {
  const { tensors, inputData, rule, tolerance, precision, options, stats } = context;
  const { reference } = tensors;
  const sampled = orders.flatMap((order) =>
    specs.map((spec) => {
      const axisStats = sampleStats(stats.get(spec.channelAxis)!);
      const { outer, channels, inner } = axisStats.geometry;
      const rows = Math.max(1, Math.min(outer, Math.ceil(SAMPLE_ELEMENTS / Math.max(1, channels * inner))));
      const geometry = { outer: rows, channels, inner };
      const grid = planUnits(geometry);
      const constants = constantsFor(spec, axisStats, tensors, options.strict ? null : precision);
      const size = rows * channels * inner;
      const { records, histograms } = compareInThread(
        inputData.subarray(0, size),
        order.data.subarray(0, size),
        constants,
        grid,
        rule,
      );
      const summary = summarizeDiff({
        name: "output",
        shape: [rows, channels, inner],
        expectedDtype: reference.dtype,
        rule,
        tolerance,
        channelAxis: 1,
        channelRecords: channelRecordsOf(grid, records),
        channelCount: channels,
        worst: [],
        histogram: mergeHistograms(histograms, grid.unitCount),
        actualAt: affineAt(inputData, constants, geometry),
        expectedAt: (i) => order.data[i],
      });
      // The constants (seven runs of channels float64 values) are made again for the few candidates
      // checked fully, not kept for every candidate: at 2^21 channels they are 117 MB each.
      return { spec, summary, order };
    }),
  );
  sampled.sort(
    (a, b) =>
      a.summary.mismatches - b.summary.mismatches ||
      (a.summary.maxAbsError?.absError ?? 0) - (b.summary.maxAbsError?.absError ?? 0),
  );

  return sampled;
}

/** The most promising candidates checked on the whole tensor, with the worker pool. */
async function checkFully(
  context: SearchContext,
  sampled: readonly Sampled[],
): Promise<Map<Sampled, TensorComparison>> {
  const { tensors, shape, inputData, rule, tolerance, precision, options, stats } = context;
  const { reference } = tensors;
  const full = new Map<Sampled, TensorComparison>();
  const conformingOnPrefix = sampled.filter((entry) => entry.summary.mismatches === 0).length;
  for (const entry of sampled.slice(
    0,
    conformingOnPrefix > 0 ? Math.min(FULL_CHECKS, conformingOnPrefix) : FULL_CHECKS_WITHOUT_MATCH,
  )) {
    const axisStats = stats.get(entry.spec.channelAxis)!;
    const grid = planUnits(axisStats.geometry);
    const constants = constantsFor(entry.spec, axisStats, tensors, options.strict ? null : precision);
    const result = await runPass(
      "compare",
      { input: inputData, reference: entry.order.data, constants },
      grid,
      rule,
      planExecution(grid, options),
      options,
    );
    const pass = result.arrays;
    full.set(
      entry,
      summarizeDiff({
        name: "output",
        shape,
        expectedDtype: reference.dtype,
        rule,
        tolerance,
        channelAxis: entry.spec.channelAxis,
        channelRecords: channelRecordsOf(grid, pass.records),
        channelCount: axisStats.geometry.channels,
        worst: mergeWorst(pass.worst, grid.unitCount),
        histogram: mergeHistograms(pass.histograms, grid.unitCount),
        actualAt: affineAt(inputData, constants, axisStats.geometry),
        expectedAt: (i) => entry.order.data[i],
      }),
    );
    // The pass's scratch (a diff record per channel and unit) goes back to the arena, which would
    // otherwise grow by it for every candidate checked.
    releaseScratch(result);
  }

  return full;
}

type RunningCheck = (
  framework: string,
  spec: CandidateSpec,
) => { passed: boolean | null; momentum: number | null; estimator: "biased" | "unbiased" | null };

/** The momentum and estimator the running statistics reveal, and a check of each preset's agreement with them. */
function runningStatistics(
  context: SearchContext,
  bestAxis: number,
): { runningStats: RunningStatsFit | null; runningCheck: RunningCheck } {
  const { tensors, shape, precision, options, stats } = context;
  let runningStats: RunningStatsFit | null = null;
  const hasRunning =
    tensors.runningMean && tensors.runningVar && tensors.referenceRunningMean && tensors.referenceRunningVar;
  if (hasRunning) {
    const s = stats.get(bestAxis)!;
    runningStats = fitRunningStats(
      { mean: tensors.runningMean!.data, variance: tensors.runningVar!.data },
      { mean: tensors.referenceRunningMean!.data, variance: tensors.referenceRunningVar!.data },
      { mean: s.mean, variance: s.biased, count: s.count },
    );
  }
  const runningCheck: RunningCheck = (framework, spec) => {
    const convention = conventions[framework as FrameworkName];
    const params = resolveConvention(convention, shape, { channelAxis: spec.channelAxis, mode: spec.mode });
    const estimator = runningVarianceEstimator(params);
    if (!hasRunning || spec.mode !== "train" || runningStats?.batchWeight == null)
      return { passed: null, momentum: null, estimator };
    if (!params.hasRunningStats) return { passed: false, momentum: null, estimator };
    const s = stats.get(spec.channelAxis)!;
    const batchVariance = params.runningVarCorrection === 1 ? s.unbiased : s.biased;
    const table = options.strict ? null : arithmeticFor({ ...spec, mode: "train" }, s, tensors);
    const errors =
      table === null
        ? null
        : Array.from({ length: table.length }, (_, c) => channelBound(channelAt(table, c), UNIT_ROUNDOFF[precision]));
    const bessel = s.count / Math.max(s.count - params.runningVarCorrection, 1);
    const u = (t: Tensor) => UNIT_ROUNDOFF[t.precision ?? t.dtype];
    const agrees = (w: number): boolean => {
      const predictedMean = runningUpdate(tensors.runningMean!.data, s.mean, 1 - w, w);
      const predictedVar = runningUpdate(tensors.runningVar!.data, batchVariance, 1 - w, w);
      // The same allowance compare gives running statistics: the batch statistic's error, then the update's roundings.
      const meanBound =
        errors === null
          ? null
          : predictedMean.map((value, c) =>
              runningUpdateBound(
                tensors.runningMean!.data[c],
                s.mean[c],
                value,
                1 - w,
                w,
                errors[c].meanError,
                u(tensors.referenceRunningMean!),
              ),
            );
      const varBound =
        errors === null
          ? null
          : predictedVar.map((value, c) =>
              runningUpdateBound(
                tensors.runningVar!.data[c],
                batchVariance[c],
                value,
                1 - w,
                w,
                errors[c].varianceError * bessel,
                u(tensors.referenceRunningVar!),
              ),
            );
      return (
        checkRunningStat("running_mean", predictedMean, tensors.referenceRunningMean!, { equalNan: true }, meanBound)
          .passed &&
        checkRunningStat("running_var", predictedVar, tensors.referenceRunningVar!, { equalNan: true }, varBound).passed
      );
    };
    // The preset's own momentum first: a weight fitted from ill-conditioned statistics (0.1011 for
    // 0.1) can miss what the exact one explains; then the fitted weight (a momentum of its own).
    const fitted = runningStats.batchWeight;
    const presetAgrees = agrees(params.batchWeight);
    const w = presetAgrees ? params.batchWeight : fitted;
    const passed = presetAgrees || agrees(fitted);
    const momentum = convention.momentumWeights === "batch" ? w : 1 - w;
    return { passed, momentum: Number(momentum.toPrecision(4)), estimator };
  };

  return { runningStats, runningCheck };
}

/**
 * One candidate per preset that explains each sampled arithmetic, with what the full check and running statistics said.
 */
function candidatesOf(
  sampled: readonly Sampled[],
  full: ReadonlyMap<Sampled, TensorComparison>,
  runningCheck: RunningCheck,
  shape: readonly number[],
): Candidate[] {
  const candidates: Candidate[] = [];
  for (const entry of sampled) {
    const { spec, summary, order } = entry;
    const comparison = full.get(entry) ?? summary;
    const names = spec.frameworks.length > 0 ? spec.frameworks : ["(none)"];
    for (const framework of names) {
      const running =
        spec.flaw === null && framework !== "(none)"
          ? runningCheck(framework, spec)
          : { passed: null, momentum: null, estimator: null };
      const outputPasses = comparison.mismatches === 0 && full.has(entry);
      const epsSource = epsilonSourceFor(framework, spec, shape);
      const layout = describeLayout(shape.length, spec.channelAxis);
      candidates.push({
        framework,
        mode: spec.mode,
        channelAxis: spec.channelAxis,
        layout,
        eps: spec.epsilon,
        epsSource,
        affine: spec.affine,
        flaw: spec.flaw,
        referenceOrder: order.name === "" ? null : order.name,
        description:
          (spec.flaw === null
            ? `${framework} ${spec.mode}, ${layout}, eps ${formatNumber(spec.epsilon)} ` +
              `(${epsSource})${spec.affine ? "" : ", no weight/bias"}`
            : `${FLAW_DESCRIPTIONS[spec.flaw]} (eps ${formatNumber(spec.epsilon)}, ${layout})`) +
          (order.name === "" ? "" : `; ref ${order.name}`),
        momentum: running.momentum,
        runningVar: running.estimator,
        maxAbsError: comparison.maxAbsError?.absError ?? 0,
        maxUlp: comparison.maxUlp?.ulps ?? 0,
        mismatches: comparison.mismatches,
        count: comparison.count,
        checkedFully: full.has(entry),
        runningStatsPassed: running.passed,
        verdict: !(outputPasses && running.passed !== false)
          ? "does not conform"
          : comparison.flatMismatches > 0
            ? "conforms within arithmetic"
            : "conforms",
      });
    }
  }
  return candidates;
}

/** The candidates best first: conforming before not, plain before flawed, the named framework and defaults first. */
function rankCandidates(
  candidates: Candidate[],
  claimed: ClaimedConvention | undefined,
): { best: Candidate; equivalent: Candidate[] } {
  const claimedName = claimed?.framework === "keras" ? "tf" : claimed?.framework;
  // Among candidates that conform, errors cannot tell eps 1e-5 from 1.001e-5: prefer a plain
  // implementation, the framework the user named, and defaults. Among the rest, the smallest error wins.
  const epsRank = { default: 0, floor: 1, given: 2, fitted: 3 } as const;
  const rank = (c: Candidate) => {
    // Within the flat tolerance or within the bound: both conform, and differences the bound calls
    // noise (eps 1e-5 against 1.001e-5 on ill-conditioned data) do not rank them.
    const common = [
      c.verdict === "does not conform" ? 1 : 0,
      c.checkedFully ? 0 : 1,
      c.referenceOrder === null ? 0 : 1,
      c.runningStatsPassed === false ? 1 : 0,
    ];
    const preference = [
      c.flaw === null ? 0 : 1,
      c.framework === claimedName ? 0 : 1,
      epsRank[c.epsSource],
      c.affine ? 0 : 1,
    ];
    const error = [c.mismatches / Math.max(1, c.count), c.maxUlp, c.maxAbsError];
    if (c.verdict !== "does not conform") return [...common, ...preference, ...error];
    // Nothing conforms: a wrong implementation is named only when it explains the data much better
    // than every plain convention (half the mismatches and a quarter of the error).
    const flawWins =
      c.flaw !== null && c.mismatches <= 0.5 * bestPlain.mismatches && c.maxAbsError <= 0.25 * bestPlain.maxAbsError;
    return [...common, c.flaw === null || flawWins ? 0 : 1, ...error, ...preference];
  };
  const plainByError = candidates
    .filter((c) => c.flaw === null && c.checkedFully)
    .sort((a, b) => a.mismatches - b.mismatches || a.maxAbsError - b.maxAbsError);
  const bestPlain = plainByError[0] ?? { mismatches: Infinity, maxAbsError: Infinity };
  candidates.sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let k = 0; k < ra.length; k++) if (ra[k] !== rb[k]) return ra[k] - rb[k];
    return 0;
  });
  const best = candidates[0];
  // Nothing conforms: the candidates whose error is as small as the best's (within a factor 1.5).
  const equivalent =
    best.verdict !== "does not conform"
      ? candidates.filter((c) => c.verdict !== "does not conform")
      : candidates.filter(
          (c) =>
            c.checkedFully &&
            c.flaw === best.flaw &&
            c.referenceOrder === best.referenceOrder &&
            c.maxAbsError <= 1.5 * best.maxAbsError &&
            c.runningStatsPassed === best.runningStatsPassed,
        );
  return { best, equivalent };
}

export async function detectConvention(
  tensors: DetectTensors,
  detectOptions: DetectOptions = {},
): Promise<DetectResult> {
  // Detect makes many passes over the data: workers pay for their start-up here even when cold.
  const options: DetectOptions = {
    ...detectOptions,
    parallelThreshold: detectOptions.parallelThreshold ?? DEFAULT_PARALLEL_THRESHOLD,
  };
  const { input, reference } = tensors;
  const shape = input.shape;
  if (shape.length < 2)
    throw new UsageError(
      `BatchNorm needs an input of rank >= 2 (batch and channel axes); got shape [${shape.join(", ")}]`,
    );
  const inputData = toShared(input.data);
  const orders = referenceOrdersOf(reference, shape);
  const precision = options.computeDtype ?? reference.precision ?? reference.dtype;
  const tolerance = resolveTolerance(precision, { atol: options.atol, rtol: options.rtol });
  const rule: DiffRule = { atol: tolerance.atol, rtol: tolerance.rtol, equalNan: true, ulpDtype: precision };
  const axes = plausibleAxes(tensors);
  const stats = await axisStatistics(inputData, shape, axes, options);
  const context: SearchContext = { tensors, shape, inputData, precision, tolerance, rule, options, stats };
  const { fitted, fittedEpsilon } = fitEpsilons(context, orders[0].data);
  const sampled = rankOnPrefix(context, candidateSpecs(tensors, axes, fitted, options.claimed), orders);
  const full = await checkFully(context, sampled);
  const { runningStats, runningCheck } = runningStatistics(context, sampled[0].spec.channelAxis);
  const candidates = candidatesOf(sampled, full, runningCheck, shape);
  const { best, equivalent } = rankCandidates(candidates, options.claimed);
  return {
    best,
    equivalent,
    candidates,
    fittedEpsilon,
    runningStats,
    diagnosis: diagnose(best, options.claimed, runningStats, shape),
    tolerance,
  };
}
