/** The one-sentence diagnosis of `detect`. */
import { ESTIMATOR_FORMULAS, runningVarianceEstimator } from "../../conventions/alternatives.js";
import { conventions } from "../../conventions/index.js";
import { resolveConvention } from "../../conventions/resolve.js";
import { formatNumber } from "../../core/format.js";
import { type Candidate, type ClaimedConvention, FLAW_DESCRIPTIONS } from "./candidates.js";
import type { RunningStatsFit } from "./fit.js";

/** One sentence: what the reference matches, and what separates it from what the user checked. */
export function diagnose(
  best: Candidate,
  claimed: ClaimedConvention | undefined,
  running: RunningStatsFit | null,
  shape: readonly number[],
): string {
  const matched =
    best.verdict === "conforms"
      ? "ref matches"
      : best.verdict === "conforms within arithmetic"
        ? "ref matches (within its float arithmetic)"
        : "ref is closest to (but does not match)";
  const stored = best.referenceOrder === null ? "" : ` output ${best.referenceOrder}`;
  const what =
    best.flaw !== null
      ? `a BatchNorm with ${FLAW_DESCRIPTIONS[best.flaw]}`
      : `${best.framework} ${best.mode} ${best.layout} ` +
        `eps=${formatNumber(best.eps)}${best.momentum !== null ? ` momentum=${best.momentum}` : ""}`;
  // The fit describes the running statistics unless the preset's own momentum explained them and the
  // fitted weight only reflects their rounding (ill-conditioned statistics).
  const fitted = running === null || running.batchWeight === null ? null : running;
  const describeFit =
    fitted !== null &&
    !(
      best.runningStatsPassed === true &&
      best.momentum !== null &&
      Math.abs(fittedMomentum(best, fitted.batchWeight!) - best.momentum) > 1e-3 * Math.abs(best.momentum)
    );
  if (claimed?.framework === undefined)
    return `${matched} ${what}${stored}${describeFit ? ` (${fitted!.description})` : ""}`;
  const differences: string[] = [];
  const claimedName = claimed.framework === "keras" ? "tf" : claimed.framework;
  const claimedParams = resolveConvention(conventions[claimed.framework], shape, {
    channelAxis: claimed.channelAxis ?? best.channelAxis,
  });
  const claimedEps = claimed.epsilon ?? conventions[claimed.framework].epsilon;
  if (best.flaw !== null) differences.push(FLAW_DESCRIPTIONS[best.flaw]);
  if (best.referenceOrder !== null) differences.push(`layout differs: the reference was ${best.referenceOrder}`);
  if (Math.abs(best.eps - claimedEps) > 1e-3 * claimedEps) differences.push("eps differs");
  if (claimed.mode !== undefined && claimed.mode !== best.mode) differences.push("mode differs");
  if (claimed.channelAxis !== undefined && claimed.channelAxis !== best.channelAxis)
    differences.push(`layout differs (channel axis ${best.channelAxis}, not ${claimed.channelAxis})`);
  if (best.runningVar !== null && claimedParams.hasRunningStats) {
    const expected = runningVarianceEstimator(claimedParams);
    if (best.runningVar !== expected)
      differences.push(
        `running variance is ${best.runningVar} (${ESTIMATOR_FORMULAS[best.runningVar]}), not ${expected}`,
      );
  }
  if (
    claimed.momentum !== undefined &&
    best.momentum !== null &&
    Math.abs(best.momentum - claimed.momentum) > 1e-3 &&
    best.framework === claimedName
  )
    differences.push("momentum differs");
  if (best.framework !== claimedName && best.flaw === null && differences.length === 0)
    differences.push(`the arithmetic is the same; ${best.framework} explains it as well`);
  const yours =
    `you checked ${claimed.framework}${claimed.mode ? ` ${claimed.mode}` : ""}` +
    `${claimed.channelAxis !== undefined ? ` axis ${claimed.channelAxis}` : ""}` +
    ` eps=${formatNumber(claimedEps)}` +
    `${claimed.momentum !== undefined ? ` momentum=${claimed.momentum}` : ""}`;
  return (
    `${matched} ${what}${stored}; ${yours}` +
    `${differences.length > 0 ? `: ${differences.join("; ")}` : ": the same convention"}`
  );
}

/** The fitted batch weight as a momentum in the candidate's framework's meaning. */
function fittedMomentum(best: Candidate, batchWeight: number): number {
  const convention = conventions[best.framework as keyof typeof conventions];
  return convention !== undefined && convention.momentumWeights !== "batch" ? 1 - batchWeight : batchWeight;
}
