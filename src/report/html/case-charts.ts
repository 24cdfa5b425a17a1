/**
 * Which charts a report gets, and their data taken from the report model. Everything a chart shows
 * is in the report already (no tensor is read again), so the same charts come out of a report
 * parsed back from JSON.
 */
import type { ChannelReport, ElementReport, TensorComparison } from "../../check/compare.js";
import type { CaseReport } from "../../app/reports.js";
import {
  type CaseRatio,
  type Chart,
  caseRatioChart,
  channelBoundChart,
  channelErrorChart,
  type MagnitudePoint,
  magnitudeChart,
  type Standing,
  ulpHistogramChart,
  varianceChart,
} from "./charts.js";

/**
 * Channels a per-channel chart draws at most: beyond that, the worst
 * ones (a chart of 10^4 points helps nobody and weighs megabytes).
 */
export const CHARTED_CHANNELS = 256;
/** Cases the suite chart draws at most: the worst ones. */
export const CHARTED_CASES = 60;

function channelStanding(channel: ChannelReport): Standing {
  if (channel.mismatches > 0) return "outside allowance";
  return channel.flatMismatches > 0 ? "within arithmetic bound" : "within flat tolerance";
}

function elementStanding(element: ElementReport): Standing {
  if (element.absError > Math.max(element.allowed, element.bound ?? 0) || Number.isNaN(element.absError))
    return "outside allowance";
  return element.absError > element.allowed ? "within arithmetic bound" : "within flat tolerance";
}

/** An element's |error| / allowance, the allowance being max(flat tolerance, bound). */
export function allowanceRatio(element: ElementReport): number {
  const allowance = Math.max(element.allowed, element.bound ?? 0);
  if (Number.isNaN(element.absError)) return Infinity;
  return allowance > 0 ? element.absError / allowance : element.absError > 0 ? Infinity : 0;
}

/**
 * The tensor a case's charts are about: the first that fails,
 * else the first outside its flat tolerance, else the first.
 */
export function focusTensor(tensors: readonly TensorComparison[]): TensorComparison | null {
  const checked = tensors.filter((t) => !t.shapeMismatch && t.count > 0);
  return checked.find((t) => !t.passed) ?? checked.find((t) => t.flatMismatches > 0) ?? checked[0] ?? null;
}

/** The channels to chart: all up to CHARTED_CHANNELS, else the worst ones; and what the caption says about it. */
function chartedChannels(tensor: TensorComparison): { channels: readonly ChannelReport[]; note: string } {
  const listed = tensor.channels;
  const omittedByReport = tensor.channelsOmitted > 0 || listed.length < tensor.channelCount;
  const reportNote = omittedByReport
    ? ` The report lists ${listed.length} of ${tensor.channelCount} ` +
      `channels (those outside the flat tolerance, worst first).`
    : "";
  if (listed.length <= CHARTED_CHANNELS) return { channels: listed, note: reportNote };
  const worst = [...listed]
    .sort((a, b) => b.mismatches - a.mismatches || b.boundRatio - a.boundRatio || b.maxAbsError - a.maxAbsError)
    .slice(0, CHARTED_CHANNELS);
  return {
    channels: worst.sort((a, b) => a.channel - b.channel),
    note: `${reportNote} Drawn: the ${CHARTED_CHANNELS} worst of ${listed.length} listed channels.`,
  };
}

/** The elements the report holds for a tensor (its worst ones and the ones each statistic singles out), once each. */
function reportedElements(tensor: TensorComparison): ElementReport[] {
  const candidates = [
    ...tensor.worst,
    tensor.maxAbsError,
    tensor.maxRelError,
    tensor.maxUlp?.element ?? null,
    tensor.bound?.element ?? null,
  ];
  const byIndex = new Map<number, ElementReport>();
  for (const element of candidates)
    if (element !== null && !byIndex.has(element.flatIndex)) byIndex.set(element.flatIndex, element);
  return [...byIndex.values()];
}

/**
 * The charts of one checked case: per channel (error, bound ratio, variance), error against |ref|, the ulp histogram.
 */
export function caseCharts(found: Pick<CaseReport, "tensors" | "batchStatistics" | "convention">): Chart[] {
  const tensor = focusTensor(found.tensors);
  if (tensor === null) return [];
  const charts: Chart[] = [];
  const { atol, rtol } = tensor.tolerance;
  const { channels, note } = chartedChannels(tensor);
  const points = channels.map((c) => ({
    channel: c.channel,
    maxAbsError: c.maxAbsError,
    boundRatio: c.boundRatio,
    standing: channelStanding(c),
  }));
  if (tensor.channelAxis !== null && channels.length > 0) {
    charts.push(channelErrorChart(tensor.name, points, atol, rtol, note));
    if (tensor.bound !== null && points.some((p) => p.boundRatio > 0))
      charts.push(channelBoundChart(tensor.name, points, tensor.bound.computeDtype, note));
    const variance = found.batchStatistics?.variance;
    // The batch statistics describe the output's channels; running statistics or gradients have others.
    if (variance !== undefined && tensor.name === "output" && variance.length === tensor.channelCount) {
      const epsilon = found.convention?.epsilon ?? 0;
      charts.push(
        varianceChart(
          tensor.name,
          channels.map((c) => ({
            channel: c.channel,
            variance: variance[c.channel],
            maxAbsError: c.maxAbsError,
            standing: channelStanding(c),
          })),
          epsilon,
          note,
        ),
      );
    }
  }
  const elements = reportedElements(tensor);
  const magnitudes: MagnitudePoint[] = elements.map((e) => ({
    magnitude: Math.abs(e.expected),
    absError: e.absError,
    standing: elementStanding(e),
  }));
  const sample =
    `Of ${tensor.count.toLocaleString("en-US")} elements, the report holds only the ` +
    `${elements.length} it singles out (the largest excesses over the allowance, the ` +
    `largest absolute, relative and ulp errors): this is those, not a sample of all.`;
  if (elements.length > 0) charts.push(magnitudeChart(tensor.name, magnitudes, atol, rtol, sample));
  if (tensor.ulpHistogram.length > 0)
    charts.push(ulpHistogramChart(tensor.name, tensor.ulpHistogram, tensor.ulpDtype, tensor.count));
  return charts;
}

/** A case's worst |error| / allowance over the elements its report holds (null when it could not be checked). */
export function caseRatio(entry: CaseReport): number | null {
  if (entry.status === "error") return null;
  let worst = 0;
  for (const tensor of entry.tensors) {
    if (tensor.shapeMismatch) return Infinity;
    for (const element of reportedElements(tensor)) worst = Math.max(worst, allowanceRatio(element));
  }
  return worst;
}

/**
 * The suite chart: cases by worst ratio (the worst CHARTED_CASES); infinite ratios
 * drawn at the largest finite one's bar end is avoided: they are named in the caption.
 */
export function suiteChart(cases: readonly CaseReport[]): Chart | null {
  const rated: CaseRatio[] = [];
  const infinite: string[] = [];
  for (const entry of cases) {
    const ratio = caseRatio(entry);
    if (ratio === null) continue;
    if (!Number.isFinite(ratio)) {
      infinite.push(entry.name);
      continue;
    }
    const standing: Standing =
      entry.verdict === "does not conform"
        ? "outside allowance"
        : entry.verdict === "conforms within arithmetic"
          ? "within arithmetic bound"
          : "within flat tolerance";
    rated.push({ name: entry.name, ratio, standing });
  }
  if (rated.length === 0) return null;
  rated.sort((a, b) => b.ratio - a.ratio);
  const shown = rated.slice(0, CHARTED_CASES);
  const notes = [
    rated.length > shown.length ? ` Drawn: the ${shown.length} worst of ${rated.length} cases.` : "",
    infinite.length > 0
      ? ` Not drawn (no finite ratio: a shape mismatch, a non-finite error or a zero allowance): ` +
        `${infinite.slice(0, 5).join(", ")}${infinite.length > 5 ? `, and ${infinite.length - 5} more` : ""}.`
      : "",
  ];
  return caseRatioChart(shown, notes.join(""));
}
