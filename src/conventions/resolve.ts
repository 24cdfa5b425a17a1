/**
 * Turns a convention record plus the user's options into the canonical parameters the kernel uses.
 * This is the only place that interprets a convention: the kernel sees numbers, never a name.
 */
import { CheckInputError, UsageError } from "../core/errors.js";
import { describeLayout, LAYOUTS, normalizeAxis, type LayoutName } from "../core/layout.js";
import type { Convention, ConventionVariant } from "./convention.js";

export type Mode = "train" | "eval";

export interface BatchNormOptions {
  readonly mode?: Mode;
  /** A named layout; mutually exclusive with `channelAxis`. */
  readonly layout?: LayoutName;
  /** Channel axis; negative counts from the end. */
  readonly channelAxis?: number;
  readonly epsilon?: number;
  /** Momentum in the framework's own meaning; `null` = cumulative average (PyTorch `momentum=None`). */
  readonly momentum?: number | null;
  /** Batches seen before this call; used by the cumulative average. */
  readonly numBatchesTracked?: number;
}

/** Canonical parameters: everything the kernel and the running-statistics update need. */
export interface BatchNormParams {
  readonly conventionId: string;
  readonly mode: Mode;
  readonly channelAxis: number;
  readonly layout: string;
  /** The eps the framework actually uses (after a floor), and the one that was asked for. */
  readonly epsilon: number;
  readonly requestedEpsilon: number;
  /** Momentum as given (framework meaning); null for a cumulative average. */
  readonly momentum: number | null;
  /** running ← runningWeight·running + batchWeight·batch. */
  readonly runningWeight: number;
  readonly batchWeight: number;
  readonly runningVarCorrection: 0 | 1;
  readonly hasRunningStats: boolean;
  readonly singleValuePerChannel: "error" | "allowed";
  /** The statistics the backward pass differentiates through in this mode (the convention's `backward`). */
  readonly gradientStatistics: "batch" | "running";
  /** The convention variant in force (e.g. Keras' fused path), if any. */
  readonly variant: string | null;
  /** Where each value came from, for the report ("eps 1e-5: torch default"). */
  readonly notes: readonly string[];
}

function checkedAxis(axis: number, rank: number, source: string): number {
  const normalized = normalizeAxis(axis, rank);
  if (normalized === null)
    throw new UsageError(`${source} ${axis} is out of range for a rank-${rank} input (valid: ${-rank}..${rank - 1})`);
  return normalized;
}

function findVariant(convention: Convention, rank: number, channelAxis: number): ConventionVariant | null {
  for (const variant of convention.variants) {
    const position = channelAxis === 1 ? "first" : channelAxis === rank - 1 ? "last" : null;
    if (variant.when.ranks.includes(rank) && position !== null && variant.when.channelPositions.includes(position))
      return variant;
  }
  return null;
}

/** The channel axis: from --layout, --channel-axis or the convention's default, with the note that says which. */
function resolveChannelAxis(
  convention: Convention,
  shape: readonly number[],
  options: BatchNormOptions,
  notes: string[],
): number {
  const rank = shape.length;
  if (options.layout !== undefined && options.channelAxis !== undefined) {
    throw new CheckInputError("{layout} and {channelAxis} both given: use one of them");
  }
  if (options.layout !== undefined) {
    const layout = LAYOUTS[options.layout];
    if (layout.rank !== rank) {
      throw new UsageError(
        `layout ${options.layout} expects a rank-${layout.rank} input, ` +
          `but the input has shape [${shape.join(", ")}] (rank ${rank})`,
      );
    }
    notes.push(`channel axis ${layout.channelAxis}: layout ${options.layout}`);
    return layout.channelAxis;
  }
  if (options.channelAxis !== undefined) {
    const channelAxis = checkedAxis(options.channelAxis, rank, "channel axis");
    notes.push(`channel axis ${channelAxis}: given`);
    return channelAxis;
  }
  const channelAxis = checkedAxis(convention.channelAxis, rank, `${convention.id} default channel axis`);
  notes.push(`channel axis ${channelAxis}: ${convention.id} default (${convention.channelAxis})`);
  return channelAxis;
}

/** The eps asked for and the eps used: TF's fused kernel raises one below its floor. */
function resolveEpsilon(
  convention: Convention,
  epsilonFloor: number | null,
  options: BatchNormOptions,
  notes: string[],
): { epsilon: number; requestedEpsilon: number } {
  const requestedEpsilon = options.epsilon ?? convention.epsilon;
  if (!(requestedEpsilon > 0) || !Number.isFinite(requestedEpsilon)) {
    throw new UsageError(`eps must be a finite number > 0; got ${requestedEpsilon}`);
  }
  notes.push(
    options.epsilon === undefined
      ? `eps ${requestedEpsilon}: ${convention.id} default`
      : `eps ${requestedEpsilon}: given`,
  );
  // TF's fused kernel: `epsilon = epsilon if epsilon > min_epsilon else min_epsilon`.
  const floored = epsilonFloor !== null && !(requestedEpsilon > epsilonFloor) ? epsilonFloor : requestedEpsilon;
  if (floored !== requestedEpsilon)
    notes.push(`eps raised from ${requestedEpsilon} to the ${convention.id} floor ${floored}`);
  const epsilon = asHeld(convention, floored);
  if (epsilon !== floored) notes.push(`eps ${floored} is ${epsilon} as ${convention.id} holds it (float32)`);
  return { epsilon, requestedEpsilon };
}

/**
 * Whether two values of eps or a momentum weight are one as a framework may hold them: equal once
 * rounded to float32 (ONNX holds 1e-5 as 9.99999974738e-6; 1 − 0.9 is not exactly 0.1 in binary).
 */
export function sameHyperparameter(a: number, b: number): boolean {
  return Math.fround(a) === Math.fround(b);
}

/** Whether the eps in force was raised by a floor (TF's fused kernel), not only held as a float32. */
export function epsilonRaised(params: BatchNormParams): boolean {
  return !sameHyperparameter(params.epsilon, params.requestedEpsilon);
}

/** A hyperparameter as the framework holds it: rounded to float32 where it is a float attribute (ONNX). */
function asHeld(convention: Convention, value: number): number {
  return convention.attributePrecision === "float32" ? Math.fround(value) : value;
}

/** Momentum in the framework's meaning, and the weights it gives the running value and the new batch. */
function resolveMomentum(
  convention: Convention,
  options: BatchNormOptions,
  notes: string[],
): { momentum: number | null; runningWeight: number; batchWeight: number } {
  // A stateless API (tf.nn) has no momentum: one given for it changes nothing, and is said so.
  if (!convention.hasRunningStats && options.momentum !== undefined)
    notes.push(`momentum ignored: ${convention.id} keeps no running statistics`);
  const momentum =
    options.momentum === undefined || !convention.hasRunningStats ? convention.momentum : options.momentum;
  if (momentum === null) {
    if (!convention.cumulativeAverage) {
      throw new UsageError(
        `momentum none (a cumulative average) exists only in PyTorch; ${convention.id} has no such mode`,
      );
    }
    const tracked = options.numBatchesTracked ?? 0;
    if (!Number.isInteger(tracked) || tracked < 0)
      throw new UsageError(`num-batches-tracked must be an integer >= 0; got ${tracked}`);
    // forward() adds 1 to num_batches_tracked, then uses 1/num_batches_tracked.
    const batchWeight = 1 / (tracked + 1);
    notes.push(`momentum none: cumulative average, factor 1/${tracked + 1}`);
    return { momentum, runningWeight: 1 - batchWeight, batchWeight };
  }
  if (!(momentum >= 0 && momentum <= 1))
    throw new UsageError(`momentum must be in [0, 1] for ${convention.id}; got ${momentum}`);
  if (convention.hasRunningStats) {
    const meaning =
      convention.momentumWeights === "batch" ? "weight of the new batch" : "weight of the old running value";
    notes.push(
      `momentum ${momentum}: ${options.momentum === undefined ? `${convention.id} default` : "given"}, ${meaning}`,
    );
  }
  // The weights come from the momentum as held (float32 for ONNX), the complement taken in float64,
  // as ONNX Runtime's `momentum` (a float) is promoted before `1 - momentum` on double data.
  const held = asHeld(convention, momentum);
  if (held !== momentum && convention.hasRunningStats)
    notes.push(`momentum ${momentum} is ${held} as ${convention.id} holds it (float32)`);
  return convention.momentumWeights === "batch"
    ? { momentum, runningWeight: 1 - held, batchWeight: held }
    : { momentum, runningWeight: held, batchWeight: 1 - held };
}

/**
 * @throws UsageError for an axis out of range, a layout of the wrong rank, a non-positive eps, a
 *   momentum outside [0, 1] or `momentum none` where the framework has no cumulative average.
 */
export function resolveConvention(
  convention: Convention,
  shape: readonly number[],
  options: BatchNormOptions = {},
): BatchNormParams {
  const rank = shape.length;
  const notes: string[] = [];
  if (rank < 2)
    throw new UsageError(
      `BatchNorm needs an input of rank >= 2 (batch and channel axes); got shape [${shape.join(", ")}]`,
    );
  const channelAxis = resolveChannelAxis(convention, shape, options, notes);
  const variant = findVariant(convention, rank, channelAxis);
  const epsilonFloor = variant?.epsilonFloor !== undefined ? variant.epsilonFloor : convention.epsilonFloor;
  const runningVarCorrection = variant?.runningVarCorrection ?? convention.runningVarCorrection;
  if (variant !== null) notes.push(`${convention.id} ${variant.id} path: ${variant.note}`);
  const { epsilon, requestedEpsilon } = resolveEpsilon(convention, epsilonFloor, options, notes);
  const mode = options.mode ?? "train";
  const { momentum, runningWeight, batchWeight } = resolveMomentum(convention, options, notes);
  return {
    conventionId: convention.id,
    mode,
    channelAxis,
    layout: describeLayout(rank, channelAxis),
    epsilon,
    requestedEpsilon,
    momentum,
    runningWeight,
    batchWeight,
    runningVarCorrection,
    hasRunningStats: convention.hasRunningStats,
    singleValuePerChannel: convention.singleValuePerChannel,
    gradientStatistics: convention.backward.statistics[mode],
    variant: variant?.id ?? null,
    notes,
  };
}
