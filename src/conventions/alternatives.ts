/**
 * The one search over other conventions: which eps, momentum, mode and channel axis are worth trying
 * when a check fails ("would another convention explain this?"). Output hints, gradient hints, the
 * model's shared finding, detect and fold's causes all draw their values from here, so that what
 * frameworks and models use is known in one place and read from the presets where they state it.
 */
import { LAYOUTS, type LayoutName } from "../core/layout.js";
import { conventions } from "./index.js";
import type { Mode } from "./resolve.js";

/**
 * How far to look for an eps, nearest first: what the presets use (their defaults and eps floors),
 * then what model definitions use beyond those, then anything a hand-written kernel or fold has.
 */
export type EpsilonReach = "frameworks" | "models" | "any";

const presets = Object.values(conventions);

/**
 * Every preset's default eps and eps floor, ascending (1e-5 torch/onnx/flax, 1.001e-5 TF's fused floor, 1e-3 Keras/TF).
 */
const FRAMEWORK_EPSILONS: readonly number[] = (() => {
  const floors: number[] = [];
  for (const preset of presets) {
    for (const floor of [preset.epsilonFloor, ...preset.variants.map((variant) => variant.epsilonFloor)])
      if (typeof floor === "number") floors.push(floor);
  }
  return distinct<number>([...presets.map((preset) => preset.epsilon), ...floors]).sort((a, b) => a - b);
})();

/** Values model definitions pass beyond the framework defaults (1e-4, 1e-2 in detection and mobile models). */
const MODEL_EPSILONS: readonly number[] = [1e-4, 1e-2];

/** What hand-written kernels and folds have been seen to use; 0 is a fold without eps. */
const OTHER_EPSILONS: readonly number[] = [1.001e-3, 1e-1, 1, 1e-6, 1e-7, 1e-8, 1e-9, 1e-12, 2e-5, 5e-4, 0];

const EPSILON_TIERS: Readonly<Record<EpsilonReach, readonly number[]>> = {
  frameworks: FRAMEWORK_EPSILONS,
  models: distinct([...FRAMEWORK_EPSILONS, ...MODEL_EPSILONS]),
  any: distinct([...FRAMEWORK_EPSILONS, ...MODEL_EPSILONS, ...OTHER_EPSILONS]),
};

function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/** Two eps values one rounding apart are the same choice (1e-3 stated as 0.0010000000474974513 by float32 storage). */
export function sameEpsilon(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));
}

/** The eps values within reach, nearest tier first, without the one in use. */
export function otherEpsilons(current: number | undefined, reach: EpsilonReach): number[] {
  return EPSILON_TIERS[reach].filter((epsilon) => current === undefined || !sameEpsilon(epsilon, current));
}

/** The preset defaults a wrong implementation is most likely to have started from (1e-5 and 1e-3). */
export function defaultEpsilons(): number[] {
  return distinct(presets.map((preset) => preset.epsilon)).sort((a, b) => a - b);
}

/**
 * Momentum values in PyTorch's meaning (the weight of the new batch), most used first: every
 * preset's default in that meaning (0.1; 0.01 for Keras' 0.99; 0.1 for ONNX's 0.9), the ones
 * detection and slow-EMA models use, then their complements (a Keras-meaning value given to a
 * torch-meaning check), then null, PyTorch's cumulative average.
 */
const MOMENTA: readonly (number | null)[] = (() => {
  const batchWeights = presets
    .filter((preset) => preset.hasRunningStats)
    .map((preset) =>
      preset.momentumWeights === "batch" ? preset.momentum : Number((1 - preset.momentum).toPrecision(12)),
    );
  const used = distinct([...batchWeights, 0.001, 0.03]);
  const complements = used.map((weight) => Number((1 - weight).toPrecision(12)));
  return distinct<number | null>([
    ...used,
    ...complements,
    ...(presets.some((preset) => preset.cumulativeAverage) ? [null] : []),
  ]);
})();

/** Momentum values to try, without the one in use (null: a cumulative average). */
export function otherMomenta(current: number | null | undefined): (number | null)[] {
  return MOMENTA.filter((momentum) => momentum !== current);
}

export function otherMode(mode: Mode): Mode {
  return mode === "train" ? "eval" : "train";
}

/** A channel axis the data could have, with the option that selects it. */
export interface AxisAlternative {
  readonly channelAxis: number;
  readonly option: string;
}

/**
 * Every other axis that could hold the channels: past the batch axis, longer than one, and as long
 * as the per-channel parameters when there are any; named by its layout where one has it.
 */
export function otherChannelAxes(
  shape: readonly number[],
  current: number,
  perChannelLength?: number,
): AxisAlternative[] {
  const axes: AxisAlternative[] = [];
  for (let axis = 1; axis < shape.length; axis++) {
    if (axis === current || shape[axis] <= 1 || (perChannelLength !== undefined && shape[axis] !== perChannelLength))
      continue;
    const layout = (Object.entries(LAYOUTS) as [LayoutName, (typeof LAYOUTS)[LayoutName]][]).find(
      ([, l]) => l.rank === shape.length && l.channelAxis === axis,
    )?.[0];
    axes.push({ channelAxis: axis, option: layout === undefined ? `--channel-axis ${axis}` : `--layout ${layout}` });
  }
  return axes;
}

/** How a running-variance estimator is named in reports ("biased"), and explained ("biased (÷N)"). */
export type VarianceEstimator = "biased" | "unbiased";

export const ESTIMATOR_FORMULAS: Readonly<Record<VarianceEstimator, string>> = { biased: "÷N", unbiased: "÷(N−1)" };

/** The estimator a resolved convention's running variance takes, or null when it keeps none. */
export function runningVarianceEstimator(params: {
  readonly hasRunningStats: boolean;
  readonly runningVarCorrection: 0 | 1;
}): VarianceEstimator | null {
  if (!params.hasRunningStats) return null;
  return params.runningVarCorrection === 1 ? "unbiased" : "biased";
}

/** Every eps value bn-check knows of, for snapping a fitted eps to the value someone likely wrote. */
export function knownEpsilons(): readonly number[] {
  return EPSILON_TIERS.any.filter((epsilon) => epsilon > 0);
}
