/**
 * `batchNorm` and `batchNormGradients`: BatchNorm under a framework's
 * convention (y and the running statistics), and its gradients.
 */
import { UsageError } from "../core/errors.js";
import { allocateShared, elementCount, type FloatDType, type Tensor } from "../core/tensor.js";
import { roundTo } from "../core/formats.js";
import { runPass, threadsThatWorked } from "../parallel/executor.js";
import { prepareBatchNorm, type BatchNormRequest, type BatchNormTensors } from "./prepare.js";
import type { BatchNormParams } from "../conventions/resolve.js";
import { passKernels, passUnits, type PassKernels, type PassUnits } from "./pass-kernels.js";
import { checkGradOutputShape, computeGradients } from "./backward.js";
import { channelArithmetic } from "./check.js";
import { nowMs } from "../core/clock.js";

export interface BatchNormResult {
  /** y, in `outputDtype` (default: the input's dtype). */
  readonly output: Tensor;
  readonly params: BatchNormParams;
  /** Train mode: the batch mean and biased batch variance used to normalise. */
  readonly batchMean: Float64Array | null;
  readonly batchVariance: Float64Array | null;
  /** Train mode with running statistics: the state after the call. */
  readonly runningMean: Float64Array | null;
  readonly runningVar: Float64Array | null;
  readonly threads: number;
  readonly timings: {
    readonly statsMs: number;
    readonly normalizeMs: number;
    readonly kernels: PassKernels;
    readonly unitsByThread: PassUnits;
  };
}

/**
 * Computes BatchNorm with float64 accumulation on the worker pool.
 * @param tensors - input and optional weight, bias and running statistics.
 * @param request - framework preset, mode, layout/axis, eps, momentum, threads.
 * @returns y and the statistics; y is rounded once from float64 to the output dtype.
 * @throws UsageError for inconsistent tensors or options; WorkerFailureError when a worker fails.
 */
export async function batchNorm(
  tensors: BatchNormTensors,
  request: BatchNormRequest & {
    outputDtype?: FloatDType;
    /** Shared memory to write y into (float32 or float64 outputs), instead of a new buffer. */
    outputBuffer?: Float32Array | Float64Array;
  } = {},
): Promise<BatchNormResult> {
  const prepared = await prepareBatchNorm(tensors, request);
  const outputDtype = request.outputDtype ?? tensors.input.dtype;
  const length = tensors.input.data.length;
  const given = request.outputBuffer;
  const fits =
    given !== undefined &&
    given.length === length &&
    given.buffer instanceof SharedArrayBuffer &&
    (outputDtype === "float64"
      ? given instanceof Float64Array
      : outputDtype === "float32" && given instanceof Float32Array);
  if (given !== undefined && !fits)
    throw new UsageError(
      `outputBuffer must be a shared ` +
        `${outputDtype === "float64" ? "Float64Array" : "Float32Array"} of ${length} elements`,
    );
  // float16 results are computed into float64 and rounded once below (a float32 buffer would round twice).
  const output = given ?? allocateShared(outputDtype === "float16" ? "float64" : outputDtype, length);
  const started = nowMs();
  const normalize = await runPass(
    "normalize",
    { input: prepared.input, constants: prepared.constants, output },
    prepared.grid,
    null,
    prepared.plan,
    request,
  );
  const unitsByThread = passUnits({ stats: prepared.statsUnitsByThread, normalize: normalize.unitsByThread });
  let data = output;
  if (outputDtype === "float16") {
    data = allocateShared("float16", output.length);
    for (let i = 0; i < output.length; i++) data[i] = roundTo("float16", output[i]);
  }
  return {
    output: { dtype: outputDtype, shape: [...tensors.input.shape], data },
    params: prepared.params,
    batchMean: prepared.batchMean,
    batchVariance: prepared.batchVariance,
    runningMean: prepared.updatedRunningMean,
    runningVar: prepared.updatedRunningVar,
    threads: threadsThatWorked(unitsByThread),
    timings: {
      statsMs: prepared.statsMs,
      normalizeMs: nowMs() - started,
      kernels: passKernels({ stats: prepared.statsKernel, normalize: normalize.kernel }),
      unitsByThread,
    },
  };
}

export interface BatchNormGradients {
  /** dx, dγ and dβ of sum(y·dy), in `outputDtype` (default: the input's dtype). */
  readonly gradInput: Tensor;
  readonly gradWeight: Tensor;
  readonly gradBias: Tensor;
  readonly params: BatchNormParams;
  readonly threads: number;
  readonly timings: {
    readonly statsMs: number;
    readonly backwardMs: number;
    readonly kernels: PassKernels;
    readonly unitsByThread: PassUnits;
  };
}

/**
 * BatchNorm's gradients with float64 accumulation on the worker pool, with the statistics the
 * forward pass uses (batch statistics in train mode, the running ones as constants in eval).
 * @throws UsageError for inconsistent tensors or options; WorkerFailureError when a worker fails.
 */
export async function batchNormGradients(
  tensors: BatchNormTensors & { readonly gradOutput: Tensor },
  request: BatchNormRequest & { outputDtype?: FloatDType } = {},
): Promise<BatchNormGradients> {
  const prepared = await prepareBatchNorm(tensors, request);
  checkGradOutputShape(tensors.gradOutput, tensors.input.shape);
  const started = nowMs();
  const dtype = request.outputDtype ?? tensors.input.dtype;
  // float16 dx is computed into float64 and rounded once below (a float32 buffer would round twice).
  const computed = await computeGradients(
    prepared,
    tensors.gradOutput.data,
    channelArithmetic(prepared, tensors),
    request,
    dtype === "float32" ? "float32" : "float64",
  );
  const rounded = (values: Float32Array | Float64Array, shape: readonly number[]): Tensor => {
    if (
      dtype !== "float16" &&
      values.length === elementCount(shape) &&
      (dtype === "float32") === values instanceof Float32Array
    )
      return { dtype, shape: [...shape], data: values };
    const data = allocateShared(dtype, values.length);
    for (let i = 0; i < values.length; i++) data[i] = dtype === "float16" ? roundTo("float16", values[i]) : values[i];
    return { dtype, shape: [...shape], data };
  };
  const channels = computed.gradBias.length;
  const unitsByThread = passUnits({ stats: prepared.statsUnitsByThread, ...computed.unitsByThread });
  return {
    gradInput: rounded(computed.gradInput!, tensors.input.shape), // written: a dtype was given,
    gradWeight: rounded(computed.gradWeight, [channels]),
    gradBias: rounded(computed.gradBias, [channels]),
    params: prepared.params,
    threads: threadsThatWorked(unitsByThread),
    timings: {
      statsMs: prepared.statsMs,
      backwardMs: nowMs() - started,
      kernels: passKernels({ stats: prepared.statsKernel, ...computed.kernels }),
      unitsByThread,
    },
  };
}
