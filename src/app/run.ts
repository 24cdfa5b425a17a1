/**
 * `bn-check run`: BatchNorm under a convention, written as .npy (output, and the updated running
 * statistics on request). Outputs are checked before any work (never an input, never an existing
 * file without --force) and written atomically.
 */
import type { BatchNormRequest, BatchNormTensors } from "../check/prepare.js";
import { batchNorm, batchNormGradients } from "../check/batch-norm.js";
import { carriedRunningState, stepSlice } from "../check/steps.js";
import { InterruptedError, UsageError } from "../core/errors.js";
import { checkOutputTargets, writeOutputs, type OutputFile } from "../io/atomic-write.js";
import { tensorFileBytes, tensorLoader, tensorSpecFile } from "../io/read-tensor.js";
import { prewarmFor } from "../parallel/executor.js";
import { allocateShared, type FloatDType, type Tensor } from "../core/tensor.js";
import { npyChunks } from "../io/npy/write-npy.js";
import { conventionInfo } from "./run-case.js";
import type { FileInfo, RunReport } from "./reports.js";
import { reportHead } from "./version.js";
import { exitCodeOf } from "./exit-code.js";
import { inOwnArena } from "../core/arena.js";
import { nowMs } from "../core/clock.js";

export interface RunOptions {
  readonly input: string;
  readonly output: string;
  readonly dtype?: FloatDType;
  readonly force: boolean;
  readonly saveRunningMean?: string;
  readonly saveRunningVar?: string;
  /** The upstream gradient dy, and where to write the gradients of sum(y·dy). */
  readonly gradOutput?: string;
  readonly saveGradInput?: string;
  readonly saveGradWeight?: string;
  readonly saveGradBias?: string;
  readonly steps: boolean;
  readonly files: {
    readonly weight?: string;
    readonly bias?: string;
    readonly runningMean?: string;
    readonly runningVar?: string;
  };
  readonly request: BatchNormRequest & { readonly framework: string };
}

/** The option combinations run refuses before reading anything, and the files it would write. */
function checkRunOptions(options: RunOptions): void {
  const inputPaths = [options.input, options.gradOutput, ...Object.values(options.files)].filter(
    (p): p is string => p !== undefined,
  );
  const gradientOutputs = [options.saveGradInput, options.saveGradWeight, options.saveGradBias];
  const outputs = [options.output, options.saveRunningMean, options.saveRunningVar, ...gradientOutputs].filter(
    (p): p is string => p !== undefined,
  );
  const wantsGradients = gradientOutputs.some((p) => p !== undefined);
  if (wantsGradients && options.gradOutput === undefined)
    throw new UsageError("--save-grad-input/-weight/-bias need the upstream gradient: give --grad-output");
  if (!wantsGradients && options.gradOutput !== undefined)
    throw new UsageError(
      "--grad-output needs somewhere to write: give --save-grad-input, --save-grad-weight or --save-grad-bias",
    );
  if (wantsGradients && options.steps)
    throw new UsageError("--steps writes forward passes only: gradients are computed for one call");
  checkOutputTargets(outputs, inputPaths.map(tensorSpecFile), options.force);
}

/** What the forward passes produced: y (every step's), the carried running statistics, the last call's result. */
interface ForwardRun {
  readonly output: Float32Array | Float64Array;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly last: Awaited<ReturnType<typeof batchNorm>>;
  readonly stepCount: number;
  readonly statsMs: number;
  readonly normalizeMs: number;
}

/** BatchNorm of the input, or of each step along its leading axis with the running statistics carried over. */
async function runForward(
  tensors: BatchNormTensors,
  options: RunOptions,
  outputDtype: FloatDType,
): Promise<ForwardRun> {
  const { input } = tensors;
  const stepCount = options.steps ? input.shape[0] : 1;
  if (options.steps && input.shape.length < 3)
    throw new UsageError(
      `--steps needs a leading step axis on a BatchNorm input of ` +
        `rank >= 2: the input has shape [${input.shape.join(", ")}]`,
    );
  // y is written over x when their storage matches: normalisation reads each element before it
  // writes it, nothing needs x afterwards, and a second tensor-sized buffer would cost its memory
  // and, on machines where touching fresh memory is slow, its page faults.
  const overwriteInput =
    outputDtype === "float64"
      ? input.data instanceof Float64Array
      : outputDtype === "float32" && input.data instanceof Float32Array;
  const output = overwriteInput
    ? input.data
    : allocateShared(outputDtype === "float64" ? "float64" : "float32", input.data.length);
  const state = carriedRunningState(tensors.runningMean, tensors.runningVar, input);
  let statsMs = 0;
  let normalizeMs = 0;
  let last = null;
  for (let step = 0; step < stepCount; step++) {
    if (options.request.signal?.aborted)
      throw new InterruptedError(`interrupted after ${step} of ${stepCount} steps; nothing was written`);
    if (step > 0 && step % 1000 === 0 && process.env.BN_CHECK_PROGRESS === "lines")
      process.stderr.write(`bn-check: progress step ${step}/${stepCount}\n`);
    const stepInput = options.steps ? stepSlice(input, step) : input;
    const stepSize = stepInput.data.length;
    // float32/float64 outputs are written in place; float16 ones are rounded from float64 per step.
    const target = outputDtype === "float16" ? undefined : output.subarray(step * stepSize, (step + 1) * stepSize);
    const result = await batchNorm(
      { ...tensors, input: stepInput, runningMean: state.mean, runningVar: state.variance },
      {
        ...options.request,
        outputDtype,
        numBatchesTracked: (options.request.numBatchesTracked ?? 0) + step,
        outputBuffer: target,
      },
    );
    if (target === undefined) output.set(result.output.data, step * stepSize);
    state.advance(result.runningMean, result.runningVar);
    statsMs += result.timings.statsMs;
    normalizeMs += result.timings.normalizeMs;
    last = result;
  }
  if (last === null) throw new UsageError("the input has 0 steps on its leading axis");
  return { output, runningMean: state.mean, runningVar: state.variance, last, stepCount, statsMs, normalizeMs };
}

/** Runs in a tensor arena of its own (see src/core/arena.ts): its tensors go when it is done. */
export const runRun = inOwnArena(async function runRun(options: RunOptions): Promise<RunReport> {
  const started = nowMs();
  checkRunOptions(options);
  const files: FileInfo[] = [];
  const load = tensorLoader(files);
  // Large input: start the workers now, so that they boot while the files are read.
  prewarmFor(tensorFileBytes(options.input) / 4, options.request);
  const input = load("input", options.input) as Tensor;
  const tensors: BatchNormTensors = {
    input,
    weight: load("weight", options.files.weight),
    bias: load("bias", options.files.bias),
    runningMean: load("running mean", options.files.runningMean),
    runningVar: load("running var", options.files.runningVar),
  };
  const gradOutput = load("grad output", options.gradOutput);
  const readMs = nowMs() - started;
  const outputDtype = options.dtype ?? input.dtype;
  // Gradients first: the forward pass below may write y over x.
  const gradients =
    gradOutput === null || gradOutput === undefined
      ? null
      : await batchNormGradients({ ...tensors, gradOutput }, { ...options.request, outputDtype });
  const forward = await runForward(tensors, options, outputDtype);
  const { last } = forward;
  if ((options.saveRunningMean !== undefined || options.saveRunningVar !== undefined) && last.runningMean === null) {
    throw new UsageError(
      last.params.mode === "eval"
        ? "eval mode does not update running statistics: nothing to save"
        : `${last.params.conventionId} keeps no running statistics: nothing to save`,
    );
  }
  if (options.request.signal?.aborted) throw new InterruptedError("interrupted; nothing was written");
  const writeStarted = nowMs();
  const written: FileInfo[] = [];
  const outputFiles: OutputFile[] = [];
  const write = (path: string | undefined, tensor: Tensor | null) => {
    if (path === undefined || tensor === null) return;
    outputFiles.push({ path, content: npyChunks(tensor) });
    written.push({ role: "output", path, dtype: tensor.dtype, shape: tensor.shape });
  };
  write(options.output, { dtype: outputDtype, shape: input.shape, data: forward.output });
  write(options.saveRunningMean, forward.runningMean);
  write(options.saveRunningVar, forward.runningVar);
  write(options.saveGradInput, gradients?.gradInput ?? null);
  write(options.saveGradWeight, gradients?.gradWeight ?? null);
  write(options.saveGradBias, gradients?.gradBias ?? null);
  // All or nothing: every file is written to a temporary first and renamed only when all are complete.
  await writeOutputs(outputFiles, options.request.signal);
  return {
    ...reportHead("run"),
    exitCode: exitCodeOf({ command: "run" }),
    files,
    written,
    convention: conventionInfo(options.request.framework, last.params),
    steps: options.steps ? forward.stepCount : null,
    timings: {
      readMs,
      statsMs: forward.statsMs,
      normalizeMs: forward.normalizeMs,
      writeMs: nowMs() - writeStarted,
      totalMs: nowMs() - started,
      threads: last.threads,
      kernels: last.timings.kernels,
      unitsByThread: last.timings.unitsByThread,
    },
  };
});
