/**
 * Why a gradient reference does not conform, when a quick recheck can tell. The mistakes looked
 * for are the ones people make by hand and the frozen/unfrozen BatchNorm confusion:
 * - dx with the other statistics: the running ones as constants (eval) in a training step, or the
 *   batch's in eval mode;
 * - dx without the x̂·mean(dy·x̂) term (the path through the batch variance forgotten);
 * - dx with another eps;
 * - dβ averaged over the batch instead of summed;
 * - dγ normalised with the unbiased variance.
 * Each candidate is recomputed in float64 and must agree with the reference within the flat
 * tolerance everywhere; only failing tensors are looked at. Runs only after a failed check.
 */
import type { TensorComparison } from "../check/compare.js";
import { formatNumber } from "../core/format.js";
import { otherEpsilons } from "../conventions/alternatives.js";
import { gradSumsLength, gradSumsUnits, mergeGradSums } from "../kernel/backward.js";
import { G_SUM_DY, G_SUM_DY_CENTRED, GRAD_RECORD_SIZE } from "../kernel/abi.js";
import { geometryOf } from "../core/layout.js";
import { planUnits } from "../kernel/units.js";
import { checkBatchNorm, type CheckRequest, type CheckTensors, type ConformanceResult } from "../check/check.js";

/**
 * Every element within a few times the comparison's flat tolerance (NaN never matches): a mistake
 * made in float32 carries float32 rounding of its own, and naming a cause needs no more.
 */
function agrees(candidate: (i: number) => number, reference: ArrayLike<number>, comparison: TensorComparison): boolean {
  const { atol, rtol } = comparison.tolerance;
  for (let i = 0; i < reference.length; i++) {
    if (!(Math.abs(candidate(i) - reference[i]) <= MATCH_SLACK * (atol + rtol * Math.abs(reference[i])))) return false;
  }
  return true;
}

const MATCH_SLACK = 4;

/** The one factor by which a per-channel reference differs from bn-check's in every channel, if there is one. */
function uniformScale(
  ours: ArrayLike<number>,
  reference: ArrayLike<number>,
  comparison: TensorComparison,
): number | null {
  let ratio = Number.NaN;
  for (let c = 0; c < reference.length; c++) {
    if (Math.abs(ours[c]) < 1e-6 * Math.abs(reference[c])) return null;
    if (Number.isNaN(ratio)) ratio = reference[c] / ours[c];
  }
  if (!Number.isFinite(ratio) || ratio === 1) return null;
  return agrees((c) => ratio * ours[c], reference, comparison) ? ratio : null;
}

interface ChannelData {
  readonly channels: number;
  readonly inner: number;
  readonly n: number;
  readonly mean: ArrayLike<number>;
  readonly variance: ArrayLike<number>;
  readonly sumDy: Float64Array;
  readonly sumDyCentred: Float64Array;
}

/**
 * The statistics the forward used and the per-channel sums of dy and dy·(x − μ), from the backward
 * kernel's own sums pass (in this thread: hints run after a failed check, on its tensors).
 */
function channelData(tensors: CheckTensors, result: ConformanceResult): ChannelData | null {
  const geometry = geometryOf(tensors.input.shape, result.params.channelAxis);
  const { channels, inner } = geometry;
  const mean = result.batchMean ?? tensors.runningMean?.data;
  const variance = result.batchVariance ?? tensors.runningVar?.data;
  if (mean === undefined || variance === undefined || tensors.gradOutput == null) return null;
  const grid = planUnits(geometry);
  const partials = new Float64Array(gradSumsLength(grid));
  gradSumsUnits(
    tensors.input.data,
    tensors.gradOutput.data,
    grid,
    Float64Array.from(mean),
    0,
    grid.unitCount,
    partials,
  );
  const sums = mergeGradSums(grid, partials);
  const column = (field: number) =>
    Float64Array.from({ length: channels }, (_, c) => sums[c * GRAD_RECORD_SIZE + field]);
  return {
    channels,
    inner,
    n: tensors.input.data.length / channels,
    mean,
    variance,
    sumDy: column(G_SUM_DY),
    sumDyCentred: column(G_SUM_DY_CENTRED),
  };
}

function failed(comparison: TensorComparison | null): comparison is TensorComparison {
  return comparison !== null && !comparison.passed && !comparison.shapeMismatch;
}

/** Whether dx conforms with the other statistics (batch ↔ running), rechecked with bn-check's own kernel. */
async function otherStatisticsConform(
  tensors: CheckTensors,
  request: CheckRequest,
  result: ConformanceResult,
): Promise<boolean> {
  const batchInForward = result.params.mode === "train";
  if (batchInForward && (tensors.runningMean == null || tensors.runningVar == null)) return false;
  const recheck = await checkBatchNorm(gradInputOnly(tensors), { ...request, mode: batchInForward ? "eval" : "train" });
  return recheck.gradInput?.passed === true;
}

const OTHER_STATISTICS_HINT: Readonly<Record<"train" | "eval", string>> = {
  train:
    "grad_input treats the running statistics as constants, as eval mode does, " +
    "but the forward used batch statistics: the gradient must flow through " +
    "the batch mean and variance (the frozen/unfrozen BatchNorm confusion)",
  eval:
    "grad_input flows through the batch mean and variance, as train mode does, but the forward used " +
    "the running statistics: in eval mode they are constants (the frozen/unfrozen BatchNorm confusion)",
};

/** The tensors a dx recheck needs: no forward reference (its comparison would go unread). */
function gradInputOnly(tensors: CheckTensors): CheckTensors {
  const { input, weight, bias, runningMean, runningVar, gradOutput, referenceGradInput } = tensors;
  return { input, weight, bias, runningMean, runningVar, gradOutput, referenceGradInput };
}

/** dx with another eps than the forward's. */
async function otherEpsilon(
  tensors: CheckTensors,
  request: CheckRequest,
  result: ConformanceResult,
): Promise<string[]> {
  // A hand-written backward may use any eps (a positive one: eps 0 divides by a zero variance).
  for (const epsilon of otherEpsilons(result.params.epsilon, "any")) {
    if (!(epsilon > 0)) continue;
    const recheck = await checkBatchNorm(gradInputOnly(tensors), { ...request, epsilon, strict: true });
    if (recheck.gradInput?.passed === true)
      return [
        `grad_input conforms with eps ${formatNumber(epsilon)}, but the forward used eps ` +
          `${formatNumber(result.params.epsilon)}: the backward must use the forward's eps`,
      ];
  }
  return [];
}

/** The hints, and whether dx conforms with the statistics the forward did not use (for detect). */
export interface GradientDiagnosis {
  readonly hints: string[];
  readonly otherStatisticsConform: boolean;
}

/** At most a line per finding; none when every gradient conforms or nothing quick explains it. */
export async function explainGradients(
  tensors: CheckTensors,
  request: CheckRequest,
  result: ConformanceResult,
): Promise<string[]> {
  return (await diagnoseGradients(tensors, request, result)).hints;
}

export async function diagnoseGradients(
  tensors: CheckTensors,
  request: CheckRequest,
  result: ConformanceResult,
): Promise<GradientDiagnosis> {
  const hints: string[] = [];
  let otherStatistics = false;
  const data =
    failed(result.gradInput) || failed(result.gradWeight) || failed(result.gradBias)
      ? channelData(tensors, result)
      : null;
  if (data === null) return { hints, otherStatisticsConform: otherStatistics };
  const { channels, inner, n, variance, sumDy, sumDyCentred } = data;
  const epsilon = result.params.epsilon;
  const gamma = (c: number) => (tensors.weight == null ? 1 : tensors.weight.data[c]);
  const batchStatistics = result.batchMean !== null;

  if (
    failed(result.gradBias) &&
    tensors.referenceGradBias != null &&
    agrees((c) => sumDy[c] / n, tensors.referenceGradBias.data, result.gradBias)
  ) {
    hints.push(`grad_bias is the mean of dy over the ${n} values of each channel, not their sum: dβ = Σdy`);
  }
  if (failed(result.gradWeight) && tensors.referenceGradWeight != null) {
    const unbiased = (c: number) => sumDyCentred[c] / Math.sqrt((variance[c] * n) / (n - 1) + epsilon);
    if (batchStatistics && n > 1 && agrees(unbiased, tensors.referenceGradWeight.data, result.gradWeight)) {
      hints.push(
        "grad_weight normalises x̂ with the unbiased variance " +
          "(÷(n−1)); the forward normalises with the biased one (÷n)",
      );
    } else {
      const ours = Float64Array.from(
        { length: channels },
        (_, c) => sumDyCentred[c] / Math.sqrt(variance[c] + epsilon),
      );
      const scale = uniformScale(ours, tensors.referenceGradWeight.data, result.gradWeight);
      if (scale !== null) hints.push(`grad_weight is ${formatNumber(scale)} × bn-check's dγ in every channel`);
    }
  }
  if (failed(result.gradInput) && tensors.referenceGradInput != null && tensors.gradOutput != null) {
    if (batchStatistics) {
      const dy = tensors.gradOutput.data;
      const withoutVarianceTerm = (i: number) => {
        const c = Math.floor(i / inner) % channels;
        return (gamma(c) / Math.sqrt(variance[c] + epsilon)) * (dy[i] - sumDy[c] / n);
      };
      if (agrees(withoutVarianceTerm, tensors.referenceGradInput.data, result.gradInput)) {
        hints.push(
          "grad_input lacks the x̂·mean(dy·x̂) term: the gradient through the batch variance " +
            "is missing (dx = γ/√(σ² + ε)·(dy − mean(dy) − x̂·mean(dy·x̂)))",
        );
      }
    }
    const explained = () => hints.some((hint) => hint.startsWith("grad_input"));
    if (!explained()) {
      otherStatistics = await otherStatisticsConform(tensors, request, result);
      if (otherStatistics) hints.push(OTHER_STATISTICS_HINT[result.params.mode]);
    }
    if (!explained()) hints.push(...(await otherEpsilon(tensors, request, result)));
  }
  return { hints, otherStatisticsConform: otherStatistics };
}
