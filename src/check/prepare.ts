/**
 * The part of BatchNorm shared by `batchNorm` (which writes y) and `checkBatchNorm` (which compares
 * y with a reference): validating the tensors, resolving the convention, the statistics pass, the
 * per-channel constants and the running-statistics update.
 */
import { conventions, type Convention, type FrameworkName } from "../conventions/index.js";
import { resolveConvention, type BatchNormOptions, type BatchNormParams } from "../conventions/resolve.js";
import { CheckInputError, UsageError } from "../core/errors.js";
import { affineConstants, mergeChannelStats } from "../kernel/batch-norm.js";
import { CONSTANT_RUNS } from "../kernel/abi.js";
import { describeLayout, geometryOf, LAYOUTS } from "../core/layout.js";
import { planUnits, type UnitGrid } from "../kernel/units.js";
import type { Tensor } from "../core/tensor.js";
import {
  planExecution,
  releaseScratch,
  runPass,
  type ExecutionOptions,
  type ExecutionPlan,
} from "../parallel/executor.js";
import { sharedFloat64, toShared } from "../parallel/shared-tensor.js";
import { fileStream, streamParams, type FileStream } from "../parallel/stream.js";
import type { KernelName } from "../parallel/task.js";
import { nowMs } from "../core/clock.js";

/** The tensors of one BatchNorm call. Parameters are 1-D with one value per channel. */
export interface BatchNormTensors {
  readonly input: Tensor;
  readonly weight?: Tensor | null;
  readonly bias?: Tensor | null;
  /** State before the call (PyTorch's running_mean / Keras' moving_mean). */
  readonly runningMean?: Tensor | null;
  readonly runningVar?: Tensor | null;
}

export interface BatchNormRequest extends BatchNormOptions, ExecutionOptions {
  /** A preset name (default `torch`) or a convention record of your own. */
  readonly framework?: FrameworkName | Convention;
}

export interface Prepared {
  readonly params: BatchNormParams;
  readonly grid: UnitGrid;
  readonly plan: ExecutionPlan;
  /** The input's values in shared memory (a streamed input is read whole on first use, for what streams do not serve). */
  readonly input: Float32Array | Float64Array;
  /** The input as the passes read it from its file unit by unit (stream.ts), when it stays there; else null. */
  readonly inputStream: FileStream | null;
  /** [shift | scale | offset | bound coefficients b0..b3] per channel, in shared memory (bounds 0 until set). */
  readonly constants: Float64Array;
  /** Batch statistics (train mode): mean and biased variance per channel. */
  readonly batchMean: Float64Array | null;
  readonly batchVariance: Float64Array | null;
  /** Running statistics after the call (train mode with running statistics), in float64. */
  readonly updatedRunningMean: Float64Array | null;
  readonly updatedRunningVar: Float64Array | null;
  readonly statsMs: number;
  /** The kernel the statistics pass ran on (null in eval mode: no pass). */
  readonly statsKernel: KernelName | null;
  /** Units of the statistics pass each thread claimed (the calling thread first; null in eval mode). */
  readonly statsUnitsByThread: readonly number[] | null;
}

export function conventionOf(framework: FrameworkName | Convention | undefined): Convention {
  if (framework === undefined) return conventions.torch;
  if (typeof framework === "string") {
    const convention = conventions[framework];
    if (convention === undefined)
      throw new UsageError(`unknown framework '${framework}' (known: ${Object.keys(conventions).join(", ")})`);
    return convention;
  }
  return framework;
}

function checkPerChannel(
  name: string,
  tensor: Tensor | null | undefined,
  channels: number,
  params: BatchNormParams,
  shape: readonly number[],
): Float32Array | Float64Array | null {
  if (tensor === null || tensor === undefined) return null;
  if (tensor.shape.length !== 1 || tensor.shape[0] !== channels) {
    throw new UsageError(
      `${name} has shape [${tensor.shape.join(", ")}], but the input has ${channels} channels on axis ` +
        `${params.channelAxis}: expected [${channels}]${axisHint(tensor.shape, shape, params.channelAxis)}`,
    );
  }
  return tensor.data;
}

/** When a per-channel tensor's length is the size of another axis of the input: the option that selects it. */
function axisHint(perChannelShape: readonly number[], shape: readonly number[], channelAxis: number): string {
  if (perChannelShape.length !== 1) return "";
  const axes = shape
    .map((size, axis) => (axis > 0 && axis !== channelAxis && size === perChannelShape[0] ? axis : -1))
    .filter((axis) => axis > 0);
  if (axes.length === 0) return "";
  const options = axes.map((axis) => {
    const layout = describeLayout(shape.length, axis);
    return layout in LAYOUTS ? `--layout ${layout}` : `--channel-axis ${axis}`;
  });
  return ` (axis ${axes.join(" and ")} has ${perChannelShape[0]}: ${options.join(" or ")}?)`;
}

/** `torch.Size([1, 3])`, as PyTorch prints it in its error message. */
function torchSize(shape: readonly number[]): string {
  return `torch.Size([${shape.join(", ")}])`;
}

/** running ← runningWeight·running + batchWeight·batch, per channel (every convention's update). */
export function runningUpdate(
  previous: ArrayLike<number>,
  batch: ArrayLike<number>,
  runningWeight: number,
  batchWeight: number,
): Float64Array {
  const updated = new Float64Array(batch.length);
  for (let c = 0; c < batch.length; c++) updated[c] = runningWeight * previous[c] + batchWeight * batch[c];
  return updated;
}

/** Eval mode normalises with the running statistics: both given, the variance never negative. */
function checkEvalStatistics(runningMean: ArrayLike<number> | null, runningVar: ArrayLike<number> | null): void {
  if (runningMean === null || runningVar === null) {
    throw new CheckInputError(
      "eval mode normalises with the running statistics: give {runningMean} " +
        "and {runningVar} (or use {mode} train for batch statistics)",
    );
  }
  for (let c = 0; c < runningVar.length; c++) {
    if (runningVar[c] < 0)
      throw new UsageError(`running var is negative at channel ${c} (${runningVar[c]}): a variance cannot be negative`);
  }
}

/** The running statistics after this training call, where the convention keeps any. */
function updatedRunningStatistics(
  params: BatchNormParams,
  stats: { readonly mean: Float64Array; readonly m2: Float64Array; readonly count: Float64Array },
  runningMean: ArrayLike<number> | null,
  runningVar: ArrayLike<number> | null,
): { updatedRunningMean: Float64Array | null; updatedRunningVar: Float64Array | null } {
  if (!params.hasRunningStats) return { updatedRunningMean: null, updatedRunningVar: null };
  const channels = stats.mean.length;
  // The Bessel denominator is clamped to 1 for a single value (TF's fused kernel does so).
  const updateVariance = stats.m2.map((m2, c) => m2 / Math.max(stats.count[c] - params.runningVarCorrection, 1));
  // Frameworks start running statistics at mean 0, variance 1.
  return {
    updatedRunningMean: runningUpdate(
      runningMean ?? new Float64Array(channels).fill(0),
      stats.mean,
      params.runningWeight,
      params.batchWeight,
    ),
    updatedRunningVar: runningUpdate(
      runningVar ?? new Float64Array(channels).fill(1),
      updateVariance,
      params.runningWeight,
      params.batchWeight,
    ),
  };
}

export async function prepareBatchNorm(tensors: BatchNormTensors, request: BatchNormRequest): Promise<Prepared> {
  const convention = conventionOf(request.framework);
  const shape = tensors.input.shape;
  const params = resolveConvention(convention, shape, request);
  const geometry = geometryOf(shape, params.channelAxis);
  const { channels } = geometry;
  const weight = checkPerChannel("weight", tensors.weight, channels, params, shape);
  const bias = checkPerChannel("bias", tensors.bias, channels, params, shape);
  const runningMean = checkPerChannel("running mean", tensors.runningMean, channels, params, shape);
  const runningVar = checkPerChannel("running var", tensors.runningVar, channels, params, shape);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new UsageError("running mean and running var must be given together");
  }

  const grid = planUnits(geometry);
  const plan = planExecution(grid, request);
  const inputStream = fileStream(tensors.input, grid, plan.threads);
  // Read whole only if something other than a streamed pass asks for it.
  let materialized: Float32Array | Float64Array | null = null;
  const inputOf = () => {
    materialized ??= toShared(tensors.input.data);
    return materialized;
  };
  const constants = sharedFloat64(CONSTANT_RUNS * channels, inputStream?.region ?? inputOf());

  if (params.mode === "eval") {
    checkEvalStatistics(runningMean, runningVar);
    affineConstants(runningMean!, runningVar!, params.epsilon, weight, bias, constants);
    return {
      params,
      grid,
      plan,
      // A getter (not a spread, which would read it): the input is read whole only when asked for.
      get input() {
        return inputOf();
      },
      inputStream,
      constants,
      batchMean: null,
      batchVariance: null,
      updatedRunningMean: null,
      updatedRunningVar: null,
      statsMs: 0,
      statsKernel: null,
      statsUnitsByThread: null,
    };
  }

  const perChannel = geometry.outer * geometry.inner;
  if (perChannel === 1 && params.singleValuePerChannel === "error") {
    throw new UsageError(
      `Expected more than 1 value per channel when training, got input size ${torchSize(shape)} ` +
        `(PyTorch raises this ValueError; ${params.conventionId} cannot train on one value per channel)`,
    );
  }
  const started = nowMs();
  const pass =
    inputStream === null
      ? await runPass("stats", { input: inputOf() }, grid, null, plan, request)
      : await runPass(
          "statsStreamed",
          { input: inputStream.region },
          grid,
          streamParams(null, grid, { input: inputStream.source }),
          plan,
          request,
        );
  const partials = pass.arrays.partials;
  const stats = mergeChannelStats(grid, partials);
  releaseScratch(pass);
  const statsKernel = pass.kernel;
  const statsMs = nowMs() - started;

  const batchVariance = new Float64Array(channels);
  for (let c = 0; c < channels; c++) batchVariance[c] = stats.m2[c] / stats.count[c];
  affineConstants(stats.mean, batchVariance, params.epsilon, weight, bias, constants);

  const { updatedRunningMean, updatedRunningVar } = updatedRunningStatistics(params, stats, runningMean, runningVar);
  return {
    params,
    grid,
    plan,
    get input() {
      return inputOf();
    },
    inputStream,
    constants,
    batchMean: stats.mean,
    batchVariance,
    updatedRunningMean,
    updatedRunningVar,
    statsMs,
    statsKernel,
    statsUnitsByThread: pass.unitsByThread,
  };
}
