/**
 * detect with gradient references: which statistics the reference gradient used (the batch's, as
 * train mode does, or the running ones as constants, as eval mode does), against the statistics the
 * forward output was found to use, and the hand-written mistakes that explain a gradient that fits
 * neither (see src/explain/gradient-hints.ts).
 */
import type { Mode } from "../../conventions/resolve.js";
import type { FrameworkName } from "../../conventions/index.js";
import type { Verdict } from "../../check/compare.js";
import { checkBatchNorm, type CheckRequest, type CheckTensors } from "../../check/check.js";
import { diagnoseGradients } from "../gradient-hints.js";
import type { Candidate } from "./candidates.js";

export interface GradientFinding {
  /** The statistics dx conforms with: "batch", "running", or null (neither; or no dx reference). */
  readonly statistics: "batch" | "running" | null;
  /** One sentence on the gradients. */
  readonly description: string;
  /** Each gradient's verdict under the convention found for the forward output. */
  readonly tensors: readonly { readonly name: string; readonly verdict: Verdict }[];
  readonly hints: readonly string[];
}

const STATISTICS_OF: Record<Mode, "batch" | "running"> = { train: "batch", eval: "running" };

export async function detectGradients(
  tensors: CheckTensors,
  best: Candidate,
  request: CheckRequest,
): Promise<GradientFinding> {
  const convention: CheckRequest = {
    ...request,
    framework: best.framework as FrameworkName,
    mode: best.mode,
    channelAxis: best.channelAxis,
    epsilon: best.eps,
  };
  const gradientsOnly = { ...tensors, referenceRunningMean: null, referenceRunningVar: null };
  const result = await checkBatchNorm(gradientsOnly, convention);
  const verdicts = [result.gradInput, result.gradWeight, result.gradBias]
    .filter((t) => t !== null)
    .map((t) => ({ name: t.name, verdict: t.verdict }));
  const forwardStatistics = STATISTICS_OF[best.mode];
  // The hints recheck dx with the other statistics when it fails; their answer says which it used.
  const { hints, otherStatisticsConform } = await diagnoseGradients(gradientsOnly, convention, result);
  const otherMode: Mode = best.mode === "train" ? "eval" : "train";
  const statistics: GradientFinding["statistics"] =
    result.gradInput?.passed === true ? forwardStatistics : otherStatisticsConform ? STATISTICS_OF[otherMode] : null;
  return {
    statistics,
    description: describe(statistics, forwardStatistics, result.conforms, result.gradInput !== null),
    tensors: verdicts,
    hints,
  };
}

function describe(
  statistics: GradientFinding["statistics"],
  forward: "batch" | "running",
  conforms: boolean,
  hasGradInput: boolean,
): string {
  const forwardWords = forward === "batch" ? "batch statistics" : "the running statistics";
  if (!hasGradInput)
    return conforms
      ? `the gradients agree with BatchNorm's, with the ${forwardWords} the forward used`
      : `the gradients do not agree with BatchNorm's (the forward used ${forwardWords})`;
  if (statistics === null)
    return `your dx fits neither the batch statistics nor the running ones (the forward used ${forwardWords})`;
  if (statistics !== forward) {
    return statistics === "running"
      ? "your dx treats the running statistics as constants, as eval mode does; the forward used batch statistics"
      : "your dx flows through the batch mean and variance, as " +
          "train mode does; the forward used the running statistics";
  }
  const through =
    statistics === "batch"
      ? "flows through the batch mean and variance, as the forward's batch statistics require"
      : "treats the running statistics as constants, as the forward's eval mode requires";
  return conforms ? `your dx ${through}; the gradients agree` : `your dx ${through}; other gradients do not agree`;
}
