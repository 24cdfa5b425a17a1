/**
 * `checkBatchNorm`: recomputes BatchNorm under a convention and compares the reference with it in one
 * fused pass (y is never materialised), then checks the running statistics when references for them
 * are given.
 */
import { compareArrays, sameShape, shapeMismatch, summarizeDiff, type TensorComparison } from "../compare/compare.js";
import { resolveTolerance, type ResolvedTolerance, type Tolerance } from "../compare/tolerance.js";
import type { BatchNormParams } from "../conventions/resolve.js";
import { UsageError } from "../errors.js";
import { mergeChannelDiffs } from "../kernel/batch-norm.js";
import { mergeWorst, type DiffRule } from "../kernel/diff.js";
import type { ComputeDType, Tensor } from "../npy/tensor.js";
import { runComparePass } from "../parallel/executor.js";
import type { KernelName } from "../parallel/task.js";
import { passKernels, type PassKernels } from "./pass-kernels.js";
import { toShared } from "../parallel/shared-tensor.js";
import { prepareBatchNorm, type BatchNormRequest, type BatchNormTensors } from "./prepare.js";
import { arenaOf } from "../memory/arena.js";

export interface CheckTensors extends BatchNormTensors {
  readonly reference: Tensor;
  readonly referenceRunningMean?: Tensor | null;
  readonly referenceRunningVar?: Tensor | null;
}

export interface CheckRequest extends BatchNormRequest {
  readonly atol?: number;
  readonly rtol?: number;
  readonly equalNan?: boolean;
  /** The precision the reference was computed in, when its file holds an upcast (e.g. bfloat16). */
  readonly computeDtype?: ComputeDType;
  /** Tolerances of the running statistics, when they differ from the output's. */
  readonly runningMeanTolerance?: Partial<Tolerance> & { readonly equalNan?: boolean };
  readonly runningVarTolerance?: Partial<Tolerance> & { readonly equalNan?: boolean };
}

export interface ConformanceResult {
  readonly conforms: boolean;
  readonly params: BatchNormParams;
  readonly output: TensorComparison;
  readonly runningMean: TensorComparison | null;
  readonly runningVar: TensorComparison | null;
  /** Train mode: the batch statistics bn-check computed (float64). */
  readonly batchMean: readonly number[] | null;
  readonly batchVariance: readonly number[] | null;
  readonly threads: number;
  readonly timings: { readonly statsMs: number; readonly compareMs: number; readonly kernels: PassKernels };
  /** The running statistics bn-check computed for after the call (train mode), in float64. */
  readonly updatedRunningMean: Float64Array | null;
  readonly updatedRunningVar: Float64Array | null;
}

function ruleFor(reference: Tensor, request: Partial<Tolerance> & { equalNan?: boolean; computeDtype?: ComputeDType }): { rule: DiffRule; tolerance: ResolvedTolerance } {
  const precision = request.computeDtype ?? reference.precision ?? reference.dtype;
  const given: Partial<Tolerance> = { atol: request.atol, rtol: request.rtol };
  const tolerance = resolveTolerance(precision, given);
  return { tolerance, rule: { atol: tolerance.atol, rtol: tolerance.rtol, equalNan: request.equalNan ?? false, ulpDtype: precision } };
}

/**
 * Compares running statistics computed by bn-check with a reference. `--compute-dtype` describes
 * the output only: running statistics are kept in their own (parameter) dtype.
 */
export function checkRunningStat(name: string, actual: Float64Array, expected: Tensor, request: CheckRequest & Partial<Tolerance>): TensorComparison {
  const statRule = ruleFor(expected, { ...request, computeDtype: expected.precision });
  return compareArrays({
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
export async function checkBatchNorm(tensors: CheckTensors, request: CheckRequest = {}): Promise<ConformanceResult> {
  const prepared = await prepareBatchNorm(tensors, request);
  const { params, grid } = prepared;
  const reference = tensors.reference;
  const { rule, tolerance } = ruleFor(reference, request);
  const { channels, inner } = grid.geometry;
  const wantsRunning = tensors.referenceRunningMean != null || tensors.referenceRunningVar != null;
  if (wantsRunning && !params.hasRunningStats) throw new UsageError(`${params.conventionId} keeps no running statistics: --ref-running-mean/--ref-running-var cannot be checked`);
  if (wantsRunning && params.mode === "eval") throw new UsageError("running statistics are not updated in eval mode: --ref-running-mean/--ref-running-var need --mode train");

  const started = performance.now();
  let output: TensorComparison;
  let compareKernel: KernelName | null = null;
  if (!sameShape(tensors.input.shape, reference.shape)) {
    output = shapeMismatch("output", tensors.input.shape, reference.shape, reference.dtype, rule, tolerance);
  } else {
    const referenceData = toShared(reference.data);
    const pass = await runComparePass(prepared.input, referenceData, grid, prepared.constants, rule, prepared.plan, request);
    compareKernel = pass.kernel;
    const channelRecords = mergeChannelDiffs(grid, pass.records);
    const { constants, input } = prepared;
    output = summarizeDiff({
      name: "output",
      shape: reference.shape,
      expectedDtype: reference.dtype,
      rule,
      tolerance,
      channelAxis: params.channelAxis,
      channelRecords,
      channelCount: channels,
      worst: mergeWorst(pass.worst, grid.unitCount),
      actualAt: (i) => {
        const c = Math.floor(i / inner) % channels;
        return (input[i] - constants[c]) * constants[channels + c] + constants[2 * channels + c];
      },
      expectedAt: (i) => referenceData[i],
    });
    // Per-unit scratch: give it back, so that repeated checks in one arena do not grow it.
    arenaOf(pass.worst)?.release(pass.worst);
    arenaOf(pass.records)?.release(pass.records);
  }
  const runningMean = tensors.referenceRunningMean == null || prepared.updatedRunningMean === null ? null : checkRunningStat("running_mean", prepared.updatedRunningMean, tensors.referenceRunningMean, request.runningMeanTolerance ?? request);
  const runningVar = tensors.referenceRunningVar == null || prepared.updatedRunningVar === null ? null : checkRunningStat("running_var", prepared.updatedRunningVar, tensors.referenceRunningVar, request.runningVarTolerance ?? request);
  const compareMs = performance.now() - started;
  const conforms = output.passed && (runningMean?.passed ?? true) && (runningVar?.passed ?? true);
  return {
    conforms,
    params,
    output,
    runningMean,
    runningVar,
    batchMean: prepared.batchMean === null ? null : Array.from(prepared.batchMean),
    batchVariance: prepared.batchVariance === null ? null : Array.from(prepared.batchVariance),
    threads: prepared.plan.threads,
    timings: { statsMs: prepared.statsMs, compareMs, kernels: passKernels({ stats: prepared.statsKernel, compare: compareKernel }) },
    updatedRunningMean: prepared.updatedRunningMean,
    updatedRunningVar: prepared.updatedRunningVar,
  };
}
