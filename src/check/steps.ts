/**
 * Several training steps in one check: the leading axis of the input and the reference is the step
 * axis. Steps run in order; the running statistics computed at each step are carried to the next
 * (rounded to the dtype the framework keeps them in), every step's output is checked, and so are
 * the running statistics after each step (when per-step references are given) and after the last.
 */
import type { TensorComparison } from "./compare.js";
import { UsageError } from "../core/errors.js";
import type { FloatDType, Tensor } from "../core/tensor.js";
import { allocateShared } from "../core/tensor.js";
import { roundTo } from "../core/formats.js";
import {
  checkBatchNorm,
  checkRunningStat,
  type CheckRequest,
  type CheckTensors,
  type ConformanceResult,
} from "./check.js";

export interface StepTensors extends CheckTensors {
  /** Every step's output: steps check the forward pass. */
  readonly reference: Tensor;
  /** Running statistics after each step: shape [steps, C]. */
  readonly referenceRunningMeanSteps?: Tensor | null;
  readonly referenceRunningVarSteps?: Tensor | null;
}

export interface StepsResult {
  readonly conforms: boolean;
  readonly steps: number;
  /** 0-based index of the first step with a failing tensor, or null. */
  readonly firstDivergentStep: number | null;
  readonly tensors: readonly TensorComparison[];
  readonly last: ConformanceResult;
  readonly statsMs: number;
  readonly compareMs: number;
}

/** The `index`-th slice along the leading axis, sharing memory with `tensor`. */
export function stepSlice(tensor: Tensor, index: number): Tensor {
  const [, ...rest] = tensor.shape;
  const size = rest.reduce((a, b) => a * b, 1);
  return {
    dtype: tensor.dtype,
    shape: rest,
    data: tensor.data.subarray(index * size, (index + 1) * size),
    precision: tensor.precision,
  };
}

/** Running statistics as the framework would store them: rounded to `dtype`. */
function stateTensor(values: Float64Array, dtype: FloatDType): Tensor {
  const data = allocateShared(dtype === "float16" ? "float32" : dtype, values.length);
  for (let i = 0; i < values.length; i++) data[i] = roundTo(dtype, values[i]);
  return { dtype, shape: [values.length], data };
}

/** Frameworks keep running statistics in the parameters' dtype (float32 unless the model is float64). */
function runningStatDtype(runningMean: Tensor | null, input: Tensor): FloatDType {
  return runningMean?.dtype ?? (input.dtype === "float64" ? "float64" : "float32");
}

/** Running statistics carried from one step to the next, kept as the framework keeps them. */
export interface CarriedState {
  readonly mean: Tensor | null;
  readonly variance: Tensor | null;
  /** Takes a step's updated statistics (ignored when the step updated none). */
  advance(mean: Float64Array | null, variance: Float64Array | null): void;
}

export function carriedRunningState(
  runningMean: Tensor | null | undefined,
  runningVar: Tensor | null | undefined,
  input: Tensor,
): CarriedState {
  const dtype = runningStatDtype(runningMean ?? null, input);
  const state = {
    mean: runningMean ?? null,
    variance: runningVar ?? null,
    advance(mean: Float64Array | null, variance: Float64Array | null) {
      if (mean === null || variance === null) return;
      state.mean = stateTensor(mean, dtype);
      state.variance = stateTensor(variance, dtype);
    },
  };
  return state;
}

function renamed(comparison: TensorComparison, name: string): TensorComparison {
  return { ...comparison, name };
}

/** The number of steps, after checking that every per-step tensor has them on its leading axis. */
function stepCount(tensors: StepTensors): number {
  const { input, reference } = tensors;
  if (input.shape.length < 3)
    throw new UsageError(
      `steps need a leading step axis on a BatchNorm input of rank ` +
        `>= 2: the input has shape [${input.shape.join(", ")}]`,
    );
  const steps = input.shape[0];
  if (reference.shape[0] !== steps) {
    throw new UsageError(
      `the input has ${steps} steps on its leading axis but the reference has ${reference.shape[0]} ` +
        `(shapes [${input.shape.join(", ")}] and [${reference.shape.join(", ")}])`,
    );
  }
  for (const [name, perStep] of [
    ["ref running mean steps", tensors.referenceRunningMeanSteps],
    ["ref running var steps", tensors.referenceRunningVarSteps],
  ] as const) {
    if (perStep != null && (perStep.shape.length !== 2 || perStep.shape[0] !== steps)) {
      throw new UsageError(`${name} has shape [${perStep.shape.join(", ")}]: expected [${steps}, channels]`);
    }
  }
  return steps;
}

/** The final running statistics against the references of the last step's state. */
function finalRunningComparisons(
  tensors: StepTensors,
  request: CheckRequest,
  state: ReturnType<typeof carriedRunningState>,
  meanBound: Float64Array | null,
  varBound: Float64Array | null,
): TensorComparison[] {
  const comparisons: TensorComparison[] = [];
  if (tensors.referenceRunningMean != null && state.mean !== null) {
    comparisons.push(
      checkRunningStat(
        "running_mean",
        Float64Array.from(state.mean.data),
        tensors.referenceRunningMean,
        { ...(request.runningMeanTolerance ?? request), strict: request.strict },
        meanBound,
      ),
    );
  }
  if (tensors.referenceRunningVar != null && state.variance !== null) {
    comparisons.push(
      checkRunningStat(
        "running_var",
        Float64Array.from(state.variance.data),
        tensors.referenceRunningVar,
        { ...(request.runningVarTolerance ?? request), strict: request.strict },
        varBound,
      ),
    );
  }
  return comparisons;
}

export async function checkSteps(tensors: StepTensors, request: CheckRequest): Promise<StepsResult> {
  const { input, reference } = tensors;
  const steps = stepCount(tensors);
  const state = carriedRunningState(tensors.runningMean, tensors.runningVar, input);
  const comparisons: TensorComparison[] = [];
  let firstDivergentStep: number | null = null;
  let last: ConformanceResult | null = null;
  let statsMs = 0;
  let compareMs = 0;
  // How far a stable implementation's carried running statistics may be off: each step's update bound
  // plus the previous error, carried with the running weight.
  let meanBound: Float64Array | null = null;
  let varBound: Float64Array | null = null;
  const carry = (previous: Float64Array | null, step: Float64Array | null, runningWeight: number) =>
    step === null ? null : step.map((b, c) => b + (previous === null ? 0 : Math.abs(runningWeight) * previous[c]));
  for (let step = 0; step < steps; step++) {
    const result = await checkBatchNorm(
      {
        ...tensors,
        input: stepSlice(input, step),
        reference: stepSlice(reference, step),
        runningMean: state.mean,
        runningVar: state.variance,
        referenceRunningMean: null,
        referenceRunningVar: null,
      },
      { ...request, numBatchesTracked: (request.numBatchesTracked ?? 0) + step },
    );
    statsMs += result.timings.statsMs;
    compareMs += result.timings.compareMs;
    const stepComparisons = [renamed(result.output!, `output[step ${step}]`)]; // a reference was given
    meanBound = carry(meanBound, result.runningMeanBound, result.params.runningWeight);
    varBound = carry(varBound, result.runningVarBound, result.params.runningWeight);
    if (result.updatedRunningMean !== null && result.updatedRunningVar !== null) {
      if (tensors.referenceRunningMeanSteps != null) {
        stepComparisons.push(
          checkRunningStat(
            `running_mean[step ${step}]`,
            result.updatedRunningMean,
            stepSlice(tensors.referenceRunningMeanSteps, step),
            { ...(request.runningMeanTolerance ?? request), strict: request.strict },
            meanBound,
          ),
        );
      }
      if (tensors.referenceRunningVarSteps != null) {
        stepComparisons.push(
          checkRunningStat(
            `running_var[step ${step}]`,
            result.updatedRunningVar,
            stepSlice(tensors.referenceRunningVarSteps, step),
            { ...(request.runningVarTolerance ?? request), strict: request.strict },
            varBound,
          ),
        );
      }
    }
    state.advance(result.updatedRunningMean, result.updatedRunningVar);
    if (firstDivergentStep === null && stepComparisons.some((c) => !c.passed)) firstDivergentStep = step;
    comparisons.push(...stepComparisons);
    last = result;
  }
  if (last === null) throw new UsageError("the input has 0 steps on its leading axis");
  comparisons.push(...finalRunningComparisons(tensors, request, state, meanBound, varBound));
  const conforms = comparisons.every((c) => c.passed);
  if (firstDivergentStep === null && !conforms) firstDivergentStep = steps - 1;
  return { conforms, steps, firstDivergentStep, tensors: comparisons, last, statsMs, compareMs };
}
