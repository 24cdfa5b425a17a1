/**
 * `checkGradients`: recomputes BatchNorm's gradients (dx, dγ, dβ of sum(y · dy)) with the
 * statistics the forward pass normalised with, on the worker pool, and compares the references
 * with them under the same three-way rule as outputs (flat tolerance, then the error model).
 */
import { compareArrays, sameShape, shapeMismatch, type TensorComparison } from "./compare.js";
import { channelAt, UNIT_ROUNDOFF, type ChannelTable } from "./error-model.js";
import { gradientBound, type GradientBound, type GradientSums } from "./gradient-bound.js";
import type { ResolvedTolerance } from "./tolerance.js";
import { CheckInputError, UsageError } from "../core/errors.js";
import { gradInputConstants, mergeGradSums } from "../kernel/backward.js";
import {
  G_MAX_ABS_CENTRED,
  G_MAX_ABS_DY,
  G_SUM_ABS_DY,
  G_SUM_DY,
  G_SUM_ABS_DY_CENTRED,
  G_SUM_DY_CENTRED,
  GRAD_CONSTANT_RUNS,
  GRAD_RECORD_SIZE,
} from "../kernel/abi.js";
import type { DiffRule } from "../kernel/diff.js";
import { CONSTANT_RUNS } from "../kernel/abi.js";
import { allocateShared, type ComputeDType, type Tensor } from "../core/tensor.js";
import { releaseScratch, runPass, type ExecutionOptions } from "../parallel/executor.js";
import { comparisonFromPass } from "./compare-pass.js";
import { sharedFloat64, toShared } from "../parallel/shared-tensor.js";
import type { KernelName } from "../parallel/task.js";
import type { Prepared } from "./prepare.js";
import {
  C_BOUND_CONSTANT,
  C_BOUND_PER_OUTPUT,
  C_OFFSET,
  C_SCALE,
  C_SHIFT,
  GC_CENTRED_SCALE,
  GC_DY_SCALE,
  GC_MEAN,
  GC_OFFSET,
} from "../kernel/abi.js";

/** The gradient tensors of a check: the upstream gradient and the references to check. */
export interface GradientTensors {
  readonly gradOutput?: Tensor | null;
  readonly referenceGradInput?: Tensor | null;
  readonly referenceGradWeight?: Tensor | null;
  readonly referenceGradBias?: Tensor | null;
}

export interface GradientComparisons {
  readonly gradInput: TensorComparison | null;
  readonly gradWeight: TensorComparison | null;
  readonly gradBias: TensorComparison | null;
  /** The kernel each backward pass ran on (gradInput: the fused dx compare, null without a dx reference). */
  readonly kernels: ComputedGradients["kernels"];
  /** Units of the two backward passes each thread claimed (the calling thread first). */
  readonly unitsByThread: ComputedGradients["unitsByThread"];
}

/** The gradients' names in reports. */
export type GradientName = "grad_input" | "grad_weight" | "grad_bias";

/** The rule and tolerance of one gradient tensor (resolved by the caller from the request). */
export type RuleOf = (reference: Tensor, name: GradientName) => { rule: DiffRule; tolerance: ResolvedTolerance };

/** Throws when gradient references come without dy, or dy without references, or dy of another shape. */
export function validateGradients(tensors: GradientTensors, inputShape: readonly number[]): boolean {
  const references =
    tensors.referenceGradInput != null || tensors.referenceGradWeight != null || tensors.referenceGradBias != null;
  if (tensors.gradOutput == null) {
    if (references) throw new CheckInputError("gradient references need the upstream gradient: give {gradOutput}");
    return false;
  }
  if (!references)
    throw new CheckInputError(
      "{gradOutput} needs a gradient to check: give {referenceGradInput}, {referenceGradWeight} or {referenceGradBias}",
    );
  checkGradOutputShape(tensors.gradOutput, inputShape);
  return true;
}

/** dy must have the input's shape. */
export function checkGradOutputShape(gradOutput: Tensor, inputShape: readonly number[]): void {
  if (!sameShape(gradOutput.shape, inputShape)) {
    throw new UsageError(
      `grad output has shape [${gradOutput.shape.join(", ")}], but the ` +
        `input has [${inputShape.join(", ")}]: they must be the same`,
    );
  }
}

/** bn-check's gradients: dx (float64, in shared memory), dγ and dβ per channel, and the sums behind them. */
export interface ComputedGradients {
  /** dx, in the precision asked for (float64 by default; null when not written). */
  readonly gradInput: Float32Array | Float64Array | null;
  /** dy in shared memory, and dx's per-channel constants (runs of μ, a, b, d: dx = ((x − μ)·b + d) + a·dy). */
  readonly gradOutput: Float32Array | Float64Array;
  readonly constants: Float64Array;
  readonly gradWeight: Float64Array;
  readonly gradBias: Float64Array;
  readonly sums: Float64Array;
  readonly kernels: { readonly gradSums: KernelName; readonly gradInput: KernelName | null };
  readonly unitsByThread: { readonly gradSums: readonly number[]; readonly gradInput: readonly number[] | null };
}

/** The two backward passes on the pool: the per-channel sums, then dx. */
export async function computeGradients(
  prepared: Prepared,
  gradOutputData: Float32Array | Float64Array,
  table: ChannelTable,
  execution: ExecutionOptions,
  /** The precision to write dx in, or null not to write it (`checkGradients` compares it where it is computed). */
  gradInputDtype: "float32" | "float64" | null = "float64",
): Promise<ComputedGradients> {
  const { grid, plan, params } = prepared;
  const { channels, outer, inner } = grid.geometry;
  const n = outer * inner;
  // The convention says which statistics the gradient goes through; the forward must have them.
  if ((params.gradientStatistics === "batch") !== table.batchStatistics) {
    throw new UsageError(
      `${params.conventionId} differentiates through ${params.gradientStatistics} ` +
        `statistics in ${params.mode} mode, which this forward pass did not use`,
    );
  }
  const gradOutput = toShared(gradOutputData);
  const mean = sharedFloat64(channels, prepared.input);
  for (let c = 0; c < channels; c++) mean[c] = table.mean[c];
  const sumsPass = await runPass("gradSums", { input: prepared.input, gradOutput, mean }, grid, null, plan, execution);
  const sums = mergeGradSums(grid, sumsPass.arrays.partials);
  releaseScratch(sumsPass);
  const constants = gradInputConstants(
    sums,
    table.mean,
    table.variance,
    params.epsilon,
    table.weight,
    n,
    table.batchStatistics,
    sharedFloat64(GRAD_CONSTANT_RUNS * channels, prepared.input),
  );
  // Written once in its final precision (rounded from float64 arithmetic element by element).
  const gradInput =
    gradInputDtype === null
      ? null
      : (allocateShared(gradInputDtype, prepared.input.length) as Float32Array | Float64Array);
  const written =
    gradInput === null
      ? null
      : await runPass(
          "gradInput",
          { input: prepared.input, gradOutput, constants, output: gradInput },
          grid,
          null,
          plan,
          execution,
        );
  return {
    gradInput,
    gradOutput,
    constants,
    gradWeight: Float64Array.from(
      { length: channels },
      (_, c) => sums[c * GRAD_RECORD_SIZE + G_SUM_DY_CENTRED] / Math.sqrt(table.variance[c] + params.epsilon),
    ),
    gradBias: Float64Array.from({ length: channels }, (_, c) => sums[c * GRAD_RECORD_SIZE + G_SUM_DY]),
    sums,
    kernels: { gradSums: sumsPass.kernel, gradInput: written?.kernel ?? null },
    unitsByThread: { gradSums: sumsPass.unitsByThread, gradInput: written?.unitsByThread ?? null },
  };
}

/** What the gradients' comparisons share: the computed gradients, their bounds and how to describe them. */
interface GradientContext {
  readonly prepared: Prepared;
  readonly computed: Awaited<ReturnType<typeof computeGradients>>;
  readonly table: ChannelTable;
  readonly bounds: GradientBound[] | null;
  readonly computeDtype: ComputeDType;
  readonly ruleOf: RuleOf;
}

/** Per channel, the sums the gradient bound needs, from the sums pass's records. */
function channelSums(sums: Float64Array, c: number): GradientSums {
  const base = c * GRAD_RECORD_SIZE;
  return {
    sumDy: sums[base + G_SUM_DY],
    sumAbsDy: sums[base + G_SUM_ABS_DY],
    sumAbsDyCentred: sums[base + G_SUM_ABS_DY_CENTRED],
    sumDyCentred: sums[base + G_SUM_DY_CENTRED],
    maxAbsDy: sums[base + G_MAX_ABS_DY],
    maxAbsCentred: sums[base + G_MAX_ABS_CENTRED],
  };
}

/** The reference's arithmetic plus bn-check's own (float64) arithmetic, per channel. */
function gradientBounds(
  table: ChannelTable,
  sums: Float64Array,
  n: number,
  computeDtype: ComputeDType,
): GradientBound[] {
  return Array.from({ length: table.length }, (_, c) => {
    const channel = channelAt(table, c);
    const reference = gradientBound(channel, channelSums(sums, c), n, UNIT_ROUNDOFF[computeDtype]);
    const own = gradientBound(channel, channelSums(sums, c), n, UNIT_ROUNDOFF.float64);
    return {
      inputConstant: reference.inputConstant + own.inputConstant,
      inputPerAbs: reference.inputPerAbs + own.inputPerAbs,
      weight: reference.weight + own.weight,
      bias: reference.bias + own.bias,
    };
  });
}

function describeBound(computeDtype: ComputeDType, what: string, boundAt: (i: number) => number) {
  return { computeDtype, termAt: () => `${what} in ${computeDtype}`, boundAt };
}

/** dx against its reference, compared where it is computed (never stored), on every thread. */
async function compareGradInput(
  context: GradientContext,
  referenceGradInput: Tensor,
  gradOutputShape: readonly number[],
  execution: ExecutionOptions & { readonly allChannels?: boolean },
): Promise<{ comparison: TensorComparison; kernel: KernelName | null; units: readonly number[] | null }> {
  const { prepared, computed, table, bounds, computeDtype } = context;
  const { grid, plan, params } = prepared;
  const { channels, inner } = grid.geometry;
  const { gradOutput, constants: dxConstants } = computed;
  const x = prepared.input;
  const { rule, tolerance } = context.ruleOf(referenceGradInput, "grad_input");
  if (!sameShape(referenceGradInput.shape, gradOutputShape)) {
    return {
      comparison: shapeMismatch(
        "grad_input",
        referenceGradInput.shape,
        gradOutputShape,
        referenceGradInput.dtype,
        rule,
        tolerance,
      ),
      kernel: null,
      units: null,
    };
  }
  // dx at one element, as the fused compare computes it (for the report's elements).
  const dxAt = (i: number) => {
    const c = Math.floor(i / inner) % channels;
    return (
      (x[i] - dxConstants[GC_MEAN * channels + c]) * dxConstants[GC_CENTRED_SCALE * channels + c] +
      dxConstants[GC_OFFSET * channels + c] +
      dxConstants[GC_DY_SCALE * channels + c] * gradOutput[i]
    );
  };
  // Compared where it is computed, never stored: y = ((x − μ)·b + d) + a·dy in the compare loop
  // (shift μ, scale b, offset d, and the addend a·dy); the bound is b0 + b3·|dx|.
  const compareConstants = sharedFloat64(CONSTANT_RUNS * channels, x);
  const gradScale = sharedFloat64(channels, x);
  for (let c = 0; c < channels; c++) {
    compareConstants[C_SHIFT * channels + c] = dxConstants[GC_MEAN * channels + c];
    compareConstants[C_SCALE * channels + c] = dxConstants[GC_CENTRED_SCALE * channels + c];
    compareConstants[C_OFFSET * channels + c] = dxConstants[GC_OFFSET * channels + c];
    gradScale[c] = dxConstants[GC_DY_SCALE * channels + c];
    if (bounds !== null) {
      compareConstants[C_BOUND_CONSTANT * channels + c] = bounds[c].inputConstant;
      compareConstants[C_BOUND_PER_OUTPUT * channels + c] = bounds[c].inputPerAbs;
    }
  }
  const reference = toShared(referenceGradInput.data);
  const pass = await runPass(
    "compareGradInput",
    { input: x, reference, constants: compareConstants, gradOutput, gradScale },
    grid,
    rule,
    plan,
    execution,
  );
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const comparison = comparisonFromPass(pass, grid, {
    name: "grad_input",
    shape: referenceGradInput.shape,
    expectedDtype: referenceGradInput.dtype,
    rule,
    tolerance,
    channelAxis: params.channelAxis,
    actualAt: dxAt,
    expectedAt: (i) => reference[i],
    arithmetic:
      bounds === null
        ? undefined
        : describeBound(
            computeDtype,
            table.batchStatistics ? "the gradient's batch reductions and x̂" : "rounding of γ/√(σ² " + "+ ε) and of dx",
            (i) => {
              const c = channelOf(i);
              return bounds[c].inputConstant + bounds[c].inputPerAbs * Math.abs(dxAt(i));
            },
          ),
    allChannels: execution.allChannels,
  });
  return { comparison, kernel: pass.kernel, units: pass.unitsByThread };
}

/** dγ or dβ (one value per channel) against its reference. */
function comparePerChannel(
  context: GradientContext,
  name: GradientName,
  reference: Tensor | null | undefined,
  actual: Float64Array,
  bound: ((c: number) => number) | null,
  what: string,
): TensorComparison | null {
  if (reference == null) return null;
  const channels = actual.length;
  const { rule, tolerance } = context.ruleOf(reference, name);
  const boundPerChannel = bound === null ? undefined : Float64Array.from({ length: channels }, (_, c) => bound(c));
  return compareArrays({
    name,
    actual,
    actualShape: [channels],
    expected: reference.data,
    expectedShape: reference.shape,
    expectedDtype: reference.dtype,
    rule,
    tolerance,
    channelAxis: 0,
    boundPerChannel,
    arithmetic:
      boundPerChannel === undefined ? undefined : describeBound(context.computeDtype, what, (c) => boundPerChannel[c]),
  });
}

/**
 * @param arithmetic - each channel's exact statistics (those the forward pass used); null under --strict.
 * @param computeDtype - the precision the references were computed in.
 */
export async function checkGradients(
  prepared: Prepared,
  tensors: GradientTensors,
  table: ChannelTable,
  computeDtype: ComputeDType,
  strict: boolean,
  ruleOf: RuleOf,
  execution: ExecutionOptions & { readonly allChannels?: boolean },
): Promise<GradientComparisons> {
  const { outer, inner } = prepared.grid.geometry;
  const computed = await computeGradients(prepared, tensors.gradOutput!.data, table, execution, null);
  const bounds = strict ? null : gradientBounds(table, computed.sums, outer * inner, computeDtype);
  const context: GradientContext = { prepared, computed, table, bounds, computeDtype, ruleOf };
  const dx =
    tensors.referenceGradInput != null
      ? await compareGradInput(context, tensors.referenceGradInput, tensors.gradOutput!.shape, execution)
      : null;
  const gradWeight = comparePerChannel(
    context,
    "grad_weight",
    tensors.referenceGradWeight,
    computed.gradWeight,
    bounds === null ? null : (c) => bounds[c].weight,
    "the sum Σdy·x̂ and x̂",
  );
  const gradBias = comparePerChannel(
    context,
    "grad_bias",
    tensors.referenceGradBias,
    computed.gradBias,
    bounds === null ? null : (c) => bounds[c].bias,
    "the sum Σdy",
  );
  return {
    gradInput: dx?.comparison ?? null,
    gradWeight,
    gradBias,
    kernels: { gradSums: computed.kernels.gradSums, gradInput: dx?.kernel ?? null },
    unitsByThread: { gradSums: computed.unitsByThread.gradSums, gradInput: dx?.units ?? null },
  };
}
