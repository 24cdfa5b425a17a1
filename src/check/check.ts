/**
 * `checkBatchNorm`: recomputes BatchNorm under a convention and compares the reference with it in one
 * fused pass (y is never materialised), then checks the running statistics when references for them
 * are given.
 */
import {
  batchNormBound,
  compareArrays,
  sameShape,
  shapeMismatch,
  worstVerdict,
  type TensorComparison,
  type Verdict,
} from "./compare.js";
import {
  channelAt,
  channelBound,
  UNIT_ROUNDOFF,
  runningUpdateBound,
  writeBoundCoefficients,
  type ChannelTable,
} from "./error-model.js";
import { resolveTolerance, type ResolvedTolerance, type Tolerance } from "./tolerance.js";
import type { BatchNormParams } from "../conventions/resolve.js";
import { CheckInputError } from "../core/errors.js";
import type { DiffRule } from "../kernel/diff.js";
import { elementCount, unloadedSource, type ComputeDType, type Tensor, type TensorFileSource } from "../core/tensor.js";
import { runPass, threadsThatWorked } from "../parallel/executor.js";
import { primeCompareKernel } from "../parallel/wasm-kernel.js";
import type { KernelName } from "../parallel/task.js";
import { passKernels, passUnits, type PassKernels, type PassUnits } from "./pass-kernels.js";
import { toShared } from "../parallel/shared-tensor.js";
import { fileStream, streamParams } from "../parallel/stream.js";
import { ambientArena, arenaOf } from "../core/arena.js";
import { prepareBatchNorm, type BatchNormRequest, type BatchNormTensors, type Prepared } from "./prepare.js";
import { checkGradients, validateGradients, type GradientName, type GradientTensors } from "./backward.js";
import { comparisonFromPass } from "./compare-pass.js";
import { C_OFFSET, C_SCALE, C_SHIFT } from "../kernel/abi.js";
import { nowMs } from "../core/clock.js";

export interface CheckTensors extends BatchNormTensors, GradientTensors {
  /** The forward output to check; optional when gradients are checked. */
  readonly reference?: Tensor | null;
  readonly referenceRunningMean?: Tensor | null;
  readonly referenceRunningVar?: Tensor | null;
}

export interface CheckRequest extends BatchNormRequest {
  readonly atol?: number;
  readonly rtol?: number;
  readonly equalNan?: boolean;
  /** The precision the reference was computed in, when its file holds an upcast (e.g. bfloat16). */
  readonly computeDtype?: ComputeDType;
  /**
   * Judge by the flat tolerance alone (no error model): an output of ill-conditioned data computed
   * correctly in float32 may then not conform.
   */
  readonly strict?: boolean;
  /** List every channel in the output's per-channel table (default: all up to 1024, then the worst failing ones). */
  readonly allChannels?: boolean;
  /** Tolerances of the running statistics, when they differ from the output's. */
  readonly runningMeanTolerance?: Partial<Tolerance> & { readonly equalNan?: boolean };
  readonly runningVarTolerance?: Partial<Tolerance> & { readonly equalNan?: boolean };
  /** Tolerances of the gradients, by name, when they differ from the output's. */
  readonly gradientTolerances?: {
    readonly [name in GradientName]?: Partial<Tolerance> & { readonly equalNan?: boolean };
  };
}

export interface ConformanceResult {
  readonly conforms: boolean;
  /** The worst of the checked tensors' verdicts. */
  readonly verdict: Verdict;
  readonly params: BatchNormParams;
  /** The forward output's comparison (null when no reference output was given: gradients only). */
  readonly output: TensorComparison | null;
  readonly runningMean: TensorComparison | null;
  readonly runningVar: TensorComparison | null;
  /** The gradients dx, dγ, dβ, when the upstream gradient and their references are given. */
  readonly gradInput: TensorComparison | null;
  readonly gradWeight: TensorComparison | null;
  readonly gradBias: TensorComparison | null;
  /** Train mode: the batch statistics bn-check computed (float64). */
  readonly batchMean: readonly number[] | null;
  readonly batchVariance: readonly number[] | null;
  readonly threads: number;
  readonly timings: {
    readonly statsMs: number;
    readonly compareMs: number;
    readonly kernels: PassKernels;
    readonly unitsByThread: PassUnits;
  };
  /** The running statistics bn-check computed for after the call (train mode), in float64. */
  readonly updatedRunningMean: Float64Array | null;
  readonly updatedRunningVar: Float64Array | null;
  /** Per channel, how far a stable implementation's running statistics may be from those (null under --strict). */
  readonly runningMeanBound: Float64Array | null;
  readonly runningVarBound: Float64Array | null;
}

function ruleFor(
  reference: Tensor,
  request: Partial<Tolerance> & { equalNan?: boolean; computeDtype?: ComputeDType },
): { rule: DiffRule; tolerance: ResolvedTolerance } {
  const precision = request.computeDtype ?? reference.precision ?? reference.dtype;
  const given: Partial<Tolerance> = { atol: request.atol, rtol: request.rtol };
  const tolerance = resolveTolerance(precision, given);
  return {
    tolerance,
    rule: { atol: tolerance.atol, rtol: tolerance.rtol, equalNan: request.equalNan ?? false, ulpDtype: precision },
  };
}

/**
 * Compares running statistics computed by bn-check with a reference. `--compute-dtype` describes
 * the output only: running statistics are kept in their own (parameter) dtype.
 */
export function checkRunningStat(
  name: string,
  actual: Float64Array,
  expected: Tensor,
  request: CheckRequest & Partial<Tolerance>,
  bound: ArrayLike<number> | null = null,
): TensorComparison {
  const statRule = ruleFor(expected, { ...request, computeDtype: expected.precision });
  const precision = expected.precision ?? expected.dtype;
  return compareArrays({
    boundPerChannel: bound ?? undefined,
    arithmetic:
      bound === null
        ? undefined
        : {
            computeDtype: precision,
            termAt: () => `the running-statistics update in ${precision} (and the batch statistic's error)`,
            boundAt: (i) => bound[i],
          },
    name,
    actual,
    actualShape: [actual.length],
    expected: expected.data,
    expectedShape: expected.shape,
    expectedDtype: expected.dtype,
    rule: statRule.rule,
    tolerance: statRule.tolerance,
    channelAxis: 0,
  });
}

/**
 * @returns the verdict and a comparison per checked tensor (output, and running statistics when
 *   their references are given). A reference of another shape is a failed comparison, not an error.
 * @throws UsageError for inconsistent tensors or options; WorkerFailureError when a worker fails.
 */
export async function checkBatchNorm(
  tensors: CheckTensors & { readonly reference: Tensor },
  request?: CheckRequest,
): Promise<ConformanceResult & { readonly output: TensorComparison }>;
export async function checkBatchNorm(tensors: CheckTensors, request?: CheckRequest): Promise<ConformanceResult>;
export async function checkBatchNorm(tensors: CheckTensors, request: CheckRequest = {}): Promise<ConformanceResult> {
  // What a check allocates in the tensors' arena (constants, pass scratch, a shared copy of the
  // reference) is dead once it returns (its result holds copies): the arena takes it back, so that
  // checks run one after another (a failed check's alternative conventions, steps) reuse that memory
  // instead of growing the arena by a whole check each time (0.4 GB at 2 x 2^21 channels).
  // (An input still in its file is in no arena: the operation's own takes the check's allocations.)
  const arena = unloadedSource(tensors.input) === null ? arenaOf(tensors.input.data) : ambientArena();
  const mark = arena?.mark();
  try {
    return await checkInArena(tensors, request);
  } finally {
    if (arena !== null && mark !== undefined) arena.rewind(mark);
  }
}

/** Refuses running-statistics references a convention or mode cannot have; says whether gradients are checked. */
function validateReferences(tensors: CheckTensors, params: BatchNormParams): boolean {
  const wantsRunning = tensors.referenceRunningMean != null || tensors.referenceRunningVar != null;
  if (wantsRunning && !params.hasRunningStats)
    throw new CheckInputError(
      `${params.conventionId} keeps no running statistics: ` +
        `{referenceRunningMean}/{referenceRunningVar} cannot be checked`,
    );
  if (wantsRunning && params.mode === "eval")
    throw new CheckInputError(
      "running statistics are not updated in eval mode: {referenceRunningMean}/{referenceRunningVar} need {mode} train",
    );
  const checksGradients = validateGradients(tensors, tensors.input.shape);
  if (tensors.reference == null && !checksGradients)
    throw new CheckInputError("nothing to check: give the reference output, or {gradOutput} with gradient references");
  return checksGradients;
}

/** The updated running statistics against their references, each within its carried bound. */
function checkRunningStats(
  prepared: Prepared,
  tensors: CheckTensors,
  request: CheckRequest,
  bounds: ReturnType<typeof runningStatBounds> | null,
) {
  const runningMean =
    tensors.referenceRunningMean == null || prepared.updatedRunningMean === null
      ? null
      : checkRunningStat(
          "running_mean",
          prepared.updatedRunningMean,
          tensors.referenceRunningMean,
          { ...(request.runningMeanTolerance ?? request), strict: request.strict },
          bounds?.mean ?? null,
        );
  const runningVar =
    tensors.referenceRunningVar == null || prepared.updatedRunningVar === null
      ? null
      : checkRunningStat(
          "running_var",
          prepared.updatedRunningVar,
          tensors.referenceRunningVar,
          { ...(request.runningVarTolerance ?? request), strict: request.strict },
          bounds?.variance ?? null,
        );
  return { runningMean, runningVar };
}

/** Elements of a float32 input and reference from which the compare kernel is primed before the statistics pass (`primeCompareKernel`). */
const PRIME_MIN_ELEMENTS = 1 << 20;

async function checkInArena(tensors: CheckTensors, request: CheckRequest): Promise<ConformanceResult> {
  const reference = tensors.reference;
  const simdSized = (tensor: Tensor | null | undefined) =>
    tensor != null && tensor.dtype === "float32" && elementCount(tensor.shape) >= PRIME_MIN_ELEMENTS;
  if (simdSized(tensors.input) && simdSized(reference)) primeCompareKernel();
  const prepared = await prepareBatchNorm(tensors, request);
  const { params } = prepared;
  // The precision the references were computed in: the output's, else a gradient's, else the input's.
  const { rule, tolerance } = ruleFor(
    reference ??
      tensors.referenceGradInput ??
      tensors.referenceGradWeight ??
      tensors.referenceGradBias ??
      tensors.input,
    request,
  );
  const checksGradients = validateReferences(tensors, params);

  const computeDtype = rule.ulpDtype;
  const arithmetic = request.strict ? null : channelArithmetic(prepared, tensors);
  if (arithmetic !== null) writeBoundCoefficients(arithmetic, computeDtype, prepared.constants);

  const started = nowMs();
  const forward =
    reference == null
      ? null
      : await checkOutput(prepared, tensors.input.shape, reference, rule, tolerance, arithmetic, request);
  const output = forward?.output ?? null;
  const bounds = arithmetic === null ? null : runningStatBounds(prepared, tensors, arithmetic, computeDtype);
  const { runningMean, runningVar } = checkRunningStats(prepared, tensors, request, bounds);
  const gradients = checksGradients
    ? await checkGradients(
        prepared,
        tensors,
        arithmetic ?? channelArithmetic(prepared, tensors),
        computeDtype,
        request.strict === true,
        (ref, name) => ruleFor(ref, { ...request, ...request.gradientTolerances?.[name] }),
        request,
      )
    : null;
  const compareMs = nowMs() - started;
  const unitsByThread = passUnits({
    stats: prepared.statsUnitsByThread,
    compare: forward?.units ?? null,
    gradSums: gradients?.unitsByThread.gradSums ?? null,
    gradInput: gradients?.unitsByThread.gradInput ?? null,
  });
  const checked = [
    output,
    runningMean,
    runningVar,
    gradients?.gradInput ?? null,
    gradients?.gradWeight ?? null,
    gradients?.gradBias ?? null,
  ].filter((t): t is TensorComparison => t !== null);
  const conforms = checked.every((t) => t.passed);
  return {
    conforms,
    verdict: worstVerdict(checked.map((t) => t.verdict)),
    runningMeanBound: bounds?.mean ?? null,
    runningVarBound: bounds?.variance ?? null,
    params,
    output,
    runningMean,
    runningVar,
    gradInput: gradients?.gradInput ?? null,
    gradWeight: gradients?.gradWeight ?? null,
    gradBias: gradients?.gradBias ?? null,
    batchMean: prepared.batchMean === null ? null : Array.from(prepared.batchMean),
    batchVariance: prepared.batchVariance === null ? null : Array.from(prepared.batchVariance),
    threads: threadsThatWorked(unitsByThread),
    timings: {
      statsMs: prepared.statsMs,
      compareMs,
      kernels: passKernels({
        stats: prepared.statsKernel,
        compare: forward?.kernel ?? null,
        gradSums: gradients?.kernels.gradSums ?? null,
        gradInput: gradients?.kernels.gradInput ?? null,
      }),
      unitsByThread,
    },
    updatedRunningMean: prepared.updatedRunningMean,
    updatedRunningVar: prepared.updatedRunningVar,
  };
}

/** The forward output against its reference, in one fused pass on the pool (y is never materialised). */
async function checkOutput(
  prepared: Prepared,
  inputShape: readonly number[],
  reference: Tensor,
  rule: DiffRule,
  tolerance: ResolvedTolerance,
  arithmetic: ChannelTable | null,
  request: CheckRequest,
): Promise<{ output: TensorComparison; kernel: KernelName | null; units: readonly number[] | null }> {
  const { params, grid } = prepared;
  const { channels, inner } = grid.geometry;
  const computeDtype = rule.ulpDtype;
  let output: TensorComparison;
  let compareKernel: KernelName | null = null;
  let compareUnits: readonly number[] | null = null;
  if (!sameShape(inputShape, reference.shape)) {
    output = shapeMismatch("output", inputShape, reference.shape, reference.dtype, rule, tolerance);
  } else {
    const { pass, expectedAt } = await comparePass(prepared, reference, rule, request);
    compareKernel = pass.kernel;
    compareUnits = pass.unitsByThread;
    const { constants, inputStream } = prepared;
    // The input's values at the few elements a report names (read from the file when it streams).
    const inputAt = inputStream === null ? (i: number) => prepared.input[i] : (i: number) => inputStream.valueAt(i);
    output = comparisonFromPass(pass, grid, {
      name: "output",
      shape: reference.shape,
      expectedDtype: reference.dtype,
      rule,
      tolerance,
      channelAxis: params.channelAxis,
      actualAt: (i) => {
        const c = Math.floor(i / inner) % channels;
        return (
          (inputAt(i) - constants[C_SHIFT * channels + c]) * constants[C_SCALE * channels + c] +
          constants[C_OFFSET * channels + c]
        );
      },
      expectedAt,
      arithmetic:
        arithmetic === null
          ? undefined
          : batchNormBound(arithmetic, computeDtype, inputAt, (i) => Math.floor(i / inner) % channels),
      allChannels: request.allChannels,
    });
  }
  return { output, kernel: compareKernel, units: compareUnits };
}

/**
 * The compare pass, with the input and the output's reference each streamed from its file where it
 * is still there (parallel/stream.ts: never held whole), else read from memory. The same bits either
 * way.
 */
async function comparePass(prepared: Prepared, reference: Tensor, rule: DiffRule, request: CheckRequest) {
  const { grid, plan, inputStream, constants } = prepared;
  const referenceStream = fileStream(reference, grid, plan.threads);
  if (referenceStream === null && inputStream === null) {
    const referenceData = toShared(reference.data);
    return {
      pass: await runPass(
        "compare",
        { input: prepared.input, reference: referenceData, constants },
        grid,
        rule,
        plan,
        request,
      ),
      expectedAt: (i: number) => referenceData[i],
    };
  }
  const sources: Record<string, TensorFileSource> = {};
  if (inputStream !== null) sources.input = inputStream.source;
  if (referenceStream !== null) sources.reference = referenceStream.source;
  const referenceData = referenceStream?.region ?? toShared(reference.data);
  const given = { input: inputStream?.region ?? prepared.input, reference: referenceData, constants };
  return {
    pass: await runPass("compareStreamed", given, grid, streamParams(rule, grid, sources), plan, request),
    expectedAt: referenceStream === null ? (i: number) => referenceData[i] : referenceStream.valueAt,
  };
}

/**
 * Each channel's exact statistics, as the error model needs them
 * (batch statistics in train mode, the given ones in eval).
 */
export function channelArithmetic(prepared: Prepared, tensors: BatchNormTensors): ChannelTable {
  const { outer, inner, channels } = prepared.grid.geometry;
  const batchStatistics = prepared.batchMean !== null && prepared.batchVariance !== null;
  const zeros = new Float64Array(channels);
  return {
    length: channels,
    count: batchStatistics ? outer * inner : 0,
    mean: prepared.batchMean ?? tensors.runningMean?.data ?? zeros,
    variance: prepared.batchVariance ?? tensors.runningVar?.data ?? zeros,
    weight: tensors.weight?.data ?? null,
    bias: tensors.bias?.data ?? null,
    epsilon: prepared.params.epsilon,
    batchStatistics,
  };
}

/**
 * Per channel, how far a stable implementation's updated running statistics may be from bn-check's:
 * the batch statistic's error (at the output's compute precision) weighted by the batch weight, plus
 * the update's own roundings in the running statistics' precision (their reference's dtype).
 */
function runningStatBounds(
  prepared: Prepared,
  tensors: CheckTensors,
  arithmetic: ChannelTable,
  computeDtype: ComputeDType,
): { mean: Float64Array; variance: Float64Array } | null {
  const { updatedRunningMean, updatedRunningVar, params } = prepared;
  if (updatedRunningMean === null || updatedRunningVar === null) return null;
  const channels = arithmetic.length;
  const mean = new Float64Array(channels);
  const variance = new Float64Array(channels);
  // The precision the framework keeps the running statistics in: their reference's, else the state's.
  const meanPrecision =
    tensors.referenceRunningMean?.precision ??
    tensors.referenceRunningMean?.dtype ??
    tensors.runningMean?.dtype ??
    "float32";
  const varPrecision =
    tensors.referenceRunningVar?.precision ??
    tensors.referenceRunningVar?.dtype ??
    tensors.runningVar?.dtype ??
    "float32";
  for (let c = 0; c < channels; c++) {
    const channel = channelAt(arithmetic, c);
    const reference = channelBound(channel, UNIT_ROUNDOFF[computeDtype]);
    const own = channelBound(channel, UNIT_ROUNDOFF.float64);
    const n = channel.count;
    const bessel = n / Math.max(n - params.runningVarCorrection, 1);
    const previousMean = tensors.runningMean == null ? 0 : tensors.runningMean.data[c];
    const previousVar = tensors.runningVar == null ? 1 : tensors.runningVar.data[c];
    mean[c] = runningUpdateBound(
      previousMean,
      channel.mean,
      updatedRunningMean[c],
      params.runningWeight,
      params.batchWeight,
      reference.meanError + own.meanError,
      UNIT_ROUNDOFF[meanPrecision],
    );
    variance[c] = runningUpdateBound(
      previousVar,
      channel.variance * bessel,
      updatedRunningVar[c],
      params.runningWeight,
      params.batchWeight,
      (reference.varianceError + own.varianceError) * bessel,
      UNIT_ROUNDOFF[varPrecision],
    );
  }
  return { mean, variance };
}
