/** `bn-check detect`: reads the tensors, searches the conventions, returns the report. */
import { detectConvention, type ClaimedConvention } from "../explain/detect/detect.js";
import { tensorLoader } from "../io/read-tensor.js";
import type { ComputeDType, Tensor } from "../core/tensor.js";
import type { ExecutionOptions } from "../parallel/executor.js";
import type { DetectReport, FileInfo } from "./reports.js";
import { reportHead } from "./version.js";
import { exitCodeOf } from "./exit-code.js";
import { inOwnArena } from "../core/arena.js";
import { validateGradients } from "../check/backward.js";
import { detectGradients } from "../explain/detect/gradients.js";
import { nowMs } from "../core/clock.js";

/** The tensor files detect reads besides the input and the reference. */
export interface DetectFiles {
  weight?: string;
  bias?: string;
  runningMean?: string;
  runningVar?: string;
  refRunningMean?: string;
  refRunningVar?: string;
  gradOutput?: string;
  refGradInput?: string;
  refGradWeight?: string;
  refGradBias?: string;
}

export interface DetectCommandOptions {
  readonly input: string;
  readonly reference: string;
  readonly files: DetectFiles;

  readonly claimed?: ClaimedConvention;
  readonly execution: ExecutionOptions;
  readonly tolerance?: {
    readonly atol?: number;
    readonly rtol?: number;
    readonly computeDtype?: ComputeDType;
    readonly strict?: boolean;
  };
}

/** Runs in a tensor arena of its own (see src/core/arena.ts): its tensors go when it is done. */
export const runDetect = inOwnArena(async function runDetect(options: DetectCommandOptions): Promise<DetectReport> {
  const started = nowMs();
  const files: FileInfo[] = [];
  const load = tensorLoader(files);
  const tensors = {
    input: load("input", options.input) as Tensor,
    reference: load("reference", options.reference) as Tensor,
    weight: load("weight", options.files.weight),
    bias: load("bias", options.files.bias),
    runningMean: load("running mean", options.files.runningMean),
    runningVar: load("running var", options.files.runningVar),
    referenceRunningMean: load("ref running mean", options.files.refRunningMean),
    referenceRunningVar: load("ref running var", options.files.refRunningVar),
  };
  const gradientTensors = {
    gradOutput: load("grad output", options.files.gradOutput),
    referenceGradInput: load("ref grad input", options.files.refGradInput),
    referenceGradWeight: load("ref grad weight", options.files.refGradWeight),
    referenceGradBias: load("ref grad bias", options.files.refGradBias),
  };
  const result = await detectConvention(tensors, {
    ...options.execution,
    ...options.tolerance,
    claimed: options.claimed,
  });
  const checksGradients = validateGradients(gradientTensors, tensors.input.shape);
  const gradients = checksGradients
    ? await detectGradients({ ...tensors, ...gradientTensors }, result.best, {
        ...options.execution,
        ...options.tolerance,
      })
    : null;
  return {
    ...reportHead("detect"),
    exitCode: exitCodeOf({ command: "detect" }),
    files,
    diagnosis: result.diagnosis,
    tolerance: result.tolerance,
    best: result.best,
    equivalent: result.equivalent,
    fittedEpsilon: result.fittedEpsilon,
    runningStats: result.runningStats,
    gradients,
    candidates: result.candidates,
    timings: { totalMs: nowMs() - started },
  };
});
