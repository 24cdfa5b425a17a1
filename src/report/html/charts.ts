/**
 * The charts of a report as vega-lite specs: plain data in, a spec out, nothing rendered here (see
 * svg.ts). Each chart carries its title, a text alternative that states what it shows in numbers,
 * and a caption, so that a reader without the picture (a screen reader, a Markdown table) loses
 * nothing essential.
 *
 * Log scales cannot show 0: points with a zero value are left out and the caption says how many.
 */
import type { TopLevelSpec } from "vega-lite";
import { escapeControlCharacters, formatNumber, listSome } from "../../core/format.js";

export interface Chart {
  /** A file-name-safe id, unique within its case ("channel-error"). */
  readonly id: string;
  readonly title: string;
  /** The text alternative: what the chart shows, with the numbers that matter. */
  readonly description: string;
  readonly caption: string;
  readonly spec: TopLevelSpec;
}

/** A channel's or an element's standing: the three verdicts, as a chart's legend names them. */
export type Standing = "within flat tolerance" | "within arithmetic bound" | "outside allowance";
export const STANDINGS: readonly Standing[] = ["within flat tolerance", "within arithmetic bound", "outside allowance"];
/** Colours that read on white and on a dark background alike; failing marks also get another shape. */
export const STANDING_COLORS: readonly string[] = ["#4c78a8", "#d08c00", "#d62728"];
const STANDING_SHAPES = ["circle", "diamond", "cross"];

/**
 * System fonts only: the page loads no font. The page's CSS gives chart
 * text this stack; vega writes the short generic name on each text.
 */
export const FONT_STACK = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif";

const WIDTH = 560;
const HEIGHT = 200;

/** Colour and shape both by standing, in one legend titled for what the marks are (channel, element, case). */
function standingMarks(title: string) {
  const scale = { domain: [...STANDINGS] };
  const legend = { orient: "bottom", direction: "horizontal", labelLimit: 220 } as const;
  return {
    color: { field: "standing", type: "nominal", title, scale: { ...scale, range: [...STANDING_COLORS] }, legend },
    shape: { field: "standing", type: "nominal", title, scale: { ...scale, range: STANDING_SHAPES }, legend },
  } as const;
}

/** Settings every chart shares: fonts, no per-mark ARIA labels (the chart has one text alternative), no border. */
function common(title: string, description: string) {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    description,
    width: WIDTH,
    height: HEIGHT,
    background: "transparent",
    config: {
      font: "sans-serif",
      aria: false,
      view: { stroke: null },
      title: { anchor: "start", fontSize: 13 },
      axis: { labelFontSize: 11, titleFontSize: 11, gridOpacity: 0.35 },
      // Fewer ticks: a log axis otherwise draws nine ticks and grid lines per decade, most of the SVG's bytes.
      axisQuantitative: { tickCount: 6 },
      legend: { labelFontSize: 11, titleFontSize: 11 },
    },
  } as const;
}

const channelAxis = {
  field: "channel",
  type: "quantitative",
  title: "channel",
  scale: { nice: false, padding: 10 },
  axis: { tickMinStep: 1, format: "d" },
} as const;

/** Where bars on a log scale start (a log scale has no 0): half the smallest value drawn, and at most 1/2. */
const logBase = (values: readonly number[]) => Math.min(0.5, ...values) / 2;

const zeroNote = (count: number, what: string) =>
  count === 0 ? "" : ` ${count} ${what} with a zero value ${count === 1 ? "is" : "are"} not drawn (log scale).`;

export interface ChannelPoint {
  readonly channel: number;
  readonly maxAbsError: number;
  /** Largest error/bound over the channel's elements outside the flat tolerance (0 if none). */
  readonly boundRatio: number;
  readonly standing: Standing;
}

/** Channels as points on a log scale (coloured and shaped by standing) against a dashed line at `line`. */
function channelPointsAgainstLine(
  title: string,
  description: string,
  drawn: readonly ChannelPoint[],
  y: { field: keyof ChannelPoint; title: string; axis?: object },
  line: number,
): TopLevelSpec {
  return {
    ...common(title, description),
    layer: [
      {
        data: { values: drawn.map((c) => ({ ...c })) },
        mark: { type: "point", filled: true, size: 50, opacity: 0.9 },
        encoding: {
          x: channelAxis,
          y: { ...y, type: "quantitative", scale: { type: "log" } },
          ...standingMarks("channel"),
        },
      },
      {
        data: { values: [{ line }] },
        mark: { type: "rule", strokeDash: [5, 4], color: "#888" },
        encoding: { y: { field: "line", type: "quantitative" } },
      },
    ],
  } as TopLevelSpec;
}

/** (1) Per-channel max |error|, coloured by standing, against the flat tolerance's floor atol. */
export function channelErrorChart(
  tensor: string,
  channels: readonly ChannelPoint[],
  atol: number,
  rtol: number,
  note: string,
): Chart {
  const drawn = channels.filter((c) => c.maxAbsError > 0);
  const failing = channels.filter((c) => c.standing === "outside allowance");
  const title = `${tensor}: max |error| per channel`;
  const description =
    `Max absolute error of each of ${channels.length} channels of ${tensor} on a log scale, ` +
    `with the flat tolerance's floor atol = ${formatNumber(atol)} as a dashed line. ` +
    `${failing.length} channel(s) outside the allowance` +
    `${failing.length > 0 ? `: ${listSome(failing.map((c) => String(c.channel)))}` : ""}.`;
  return {
    id: "channel-error",
    title,
    description,
    caption:
      `Each point is a channel's largest |bn-check − reference|. The dashed line is atol ` +
      `(${formatNumber(atol)}); an element's flat tolerance is atol + rtol·|ref| (rtol ` +
      `${formatNumber(rtol)}), and with the error model its allowance is the larger of that and the ` +
      `arithmetic bound (next chart).${zeroNote(channels.length - drawn.length, "channel(s)")}${note}`,
    spec: channelPointsAgainstLine(
      title,
      description,
      drawn,
      { field: "maxAbsError", title: "max |error|", axis: { format: ".0e" } },
      atol,
    ),
  };
}

/** (1b) Per-channel max error/bound over elements outside the flat tolerance, against 1 (the bound). */
export function channelBoundChart(
  tensor: string,
  channels: readonly ChannelPoint[],
  computeDtype: string,
  note: string,
): Chart {
  const drawn = channels.filter((c) => c.boundRatio > 0);
  const over = drawn.filter((c) => c.boundRatio > 1);
  const title = `${tensor}: error / arithmetic bound per channel`;
  const description =
    `For the ${drawn.length} channel(s) of ${tensor} with elements outside the flat ` +
    `tolerance: the largest error divided by the ${computeDtype} error model's bound, ` +
    `on a log scale; 1 (dashed) is the bound. ${over.length} channel(s) exceed it.`;
  return {
    id: "channel-bound",
    title,
    description,
    caption:
      `Channels with elements outside the flat tolerance, by their largest |error| / B, B ` +
      `being how far a numerically stable BatchNorm in ${computeDtype} can be off there. ` +
      `Above 1 (dashed) the channel does not conform; below it the difference is the ` +
      `reference's own arithmetic. Channels within the flat tolerance are not drawn.${note}`,
    spec: channelPointsAgainstLine(title, description, drawn, { field: "boundRatio", title: "max |error| / bound" }, 1),
  };
}

export interface VariancePoint {
  readonly channel: number;
  readonly variance: number;
  readonly maxAbsError: number;
  readonly standing: Standing;
}

/**
 * (2) Per-channel error against the channel's batch variance: a wrong eps shows as error rising as the variance falls.
 */
export function varianceChart(tensor: string, points: readonly VariancePoint[], epsilon: number, note: string): Chart {
  const drawn = points.filter((p) => p.variance > 0 && p.maxAbsError > 0);
  const title = `${tensor}: max |error| against batch variance`;
  const description =
    `Each of ${drawn.length} channel(s) of ${tensor} as a point: its batch variance (x, log) ` +
    `and its max absolute error (y, log); eps = ${formatNumber(epsilon)} is the dashed line. ` +
    `An error that grows as the variance approaches eps is the signature of a wrong eps.`;
  return {
    id: "variance",
    title,
    description,
    caption:
      `The eps signature: with a wrong eps the error grows as a channel's variance falls ` +
      `towards eps (dashed, ${formatNumber(epsilon)}); a mean or layout fault does not ` +
      `follow the variance.${zeroNote(points.length - drawn.length, "channel(s)")}${note}`,
    spec: {
      ...common(title, description),
      layer: [
        {
          data: { values: drawn.map((p) => ({ ...p })) },
          mark: { type: "point", filled: true, size: 50, opacity: 0.9 },
          encoding: {
            x: {
              field: "variance",
              type: "quantitative",
              title: "batch variance of the channel",
              scale: { type: "log" },
              axis: { format: ".0e" },
            },
            y: {
              field: "maxAbsError",
              type: "quantitative",
              title: "max |error|",
              scale: { type: "log" },
              axis: { format: ".0e" },
            },
            ...standingMarks("channel"),
          },
        },
        {
          data: { values: [{ epsilon }] },
          mark: { type: "rule", strokeDash: [5, 4], color: "#888" },
          encoding: { x: { field: "epsilon", type: "quantitative" } },
        },
      ],
    } as TopLevelSpec,
  };
}

export interface MagnitudePoint {
  readonly magnitude: number;
  readonly absError: number;
  readonly standing: Standing;
}

/** (3) Error against |reference| for the elements the report holds, with the flat tolerance atol + rtol·|ref|. */
export function magnitudeChart(
  tensor: string,
  points: readonly MagnitudePoint[],
  atol: number,
  rtol: number,
  sampleNote: string,
): Chart {
  const drawn = points.filter((p) => p.absError > 0 && p.magnitude > 0);
  const magnitudes = drawn.map((p) => p.magnitude);
  const low = Math.min(...magnitudes, 1) / 2;
  const high = Math.max(...magnitudes, 1) * 2;
  // The flat tolerance as a curve over the drawn range: straight on log-log only where rtol·|ref| dominates.
  const curve = Array.from({ length: 25 }, (_, k) => {
    const magnitude = low * (high / low) ** (k / 24);
    return { magnitude, allowed: atol + rtol * magnitude };
  });
  const title = `${tensor}: |error| against |reference|`;
  const description =
    `${drawn.length} element(s) of ${tensor}: |reference| (x, log) against absolute ` +
    `error (y, log), with the flat tolerance atol + rtol·|ref| (atol ` +
    `${formatNumber(atol)}, rtol ${formatNumber(rtol)}) as a dashed curve. ${sampleNote}`;
  return {
    id: "magnitude",
    title,
    description,
    caption:
      `${sampleNote} The dashed curve is the flat tolerance atol + rtol·|ref|; ` +
      `points above it are outside the flat tolerance (and conform only if within ` +
      `the arithmetic bound).${zeroNote(points.length - drawn.length, "element(s)")}`,
    spec: {
      ...common(title, description),
      layer: [
        {
          data: { values: curve },
          mark: { type: "line", strokeDash: [5, 4], color: "#888" },
          encoding: {
            x: {
              field: "magnitude",
              type: "quantitative",
              title: "|reference|",
              scale: { type: "log" },
              axis: { format: ".0e" },
            },
            y: {
              field: "allowed",
              type: "quantitative",
              title: "|error|",
              scale: { type: "log" },
              axis: { format: ".0e" },
            },
          },
        },
        {
          data: { values: drawn.map((p) => ({ ...p })) },
          mark: { type: "point", filled: true, size: 50, opacity: 0.9 },
          encoding: {
            x: { field: "magnitude", type: "quantitative" },
            y: { field: "absError", type: "quantitative" },
            ...standingMarks("element"),
          },
        },
      ],
    } as TopLevelSpec,
  };
}

/** (4) The error histogram: elements by distance in ulps (powers of two), as the report buckets them. */
export function ulpHistogramChart(
  tensor: string,
  buckets: readonly { readonly ulps: string; readonly count: number }[],
  ulpDtype: string,
  total: number,
): Chart {
  const title = `${tensor}: error histogram (${ulpDtype} ulps)`;
  const description =
    `${total} element(s) of ${tensor} by distance in ${ulpDtype} ulps: ` +
    `${buckets.map((b) => `${b.ulps}: ${b.count}`).join("; ")}.`;
  return {
    id: "ulp-histogram",
    title,
    description,
    caption:
      `Elements by their distance from bn-check's value in ulps of ${ulpDtype}, ` +
      `in powers of two (counts on a log scale; empty buckets left out).`,
    spec: {
      ...common(title, description),
      data: { values: buckets.map((b, order) => ({ ...b, order, base: 0.5, failing: b.ulps === "non-finite" })) },
      mark: { type: "bar" },
      encoding: {
        x: {
          field: "ulps",
          type: "ordinal",
          title: `distance (${ulpDtype} ulps)`,
          sort: { field: "order" },
          axis: { labelAngle: -40 },
        },
        y: {
          field: "count",
          type: "quantitative",
          title: "elements",
          scale: { type: "log", domainMin: 0.5 },
          axis: { format: "~s", tickCount: 6 },
        },
        y2: { field: "base" },
        color: {
          field: "failing",
          type: "nominal",
          scale: { domain: [false, true], range: [STANDING_COLORS[0], STANDING_COLORS[2]] },
          legend: null,
        },
      },
    } as TopLevelSpec,
  };
}

export interface CaseRatio {
  readonly name: string;
  /** Worst |error| / allowance over the elements the case's report holds. */
  readonly ratio: number;
  readonly standing: Standing;
}

/** (5) A suite's cases by their worst error/allowance ratio: which cases are close to, or beyond, the line. */
export function caseRatioChart(cases: readonly CaseRatio[], note: string): Chart {
  const drawn = cases.filter((c) => c.ratio > 0 && Number.isFinite(c.ratio));
  const beyond = drawn.filter((c) => c.ratio > 1);
  const barStart = logBase(drawn.map((c) => c.ratio));
  const title = "Cases by worst |error| / allowance";
  const description =
    `${drawn.length} case(s) by the largest ratio of an element's absolute error to its ` +
    `allowance, on a log scale; 1 (dashed) is the allowance. ${beyond.length} case(s) ` +
    `beyond it${beyond.length > 0 ? `: ${listSome(beyond.map((c) => c.name))}` : ""}.`;
  return {
    id: "case-ratio",
    title,
    description,
    caption:
      `Each bar is a case's worst |error| / allowance, allowance = max(atol + rtol·|ref|, arithmetic bound), ` +
      `over the elements its report holds (the worst of each tensor). Beyond 1 (dashed) the case does not ` +
      `conform — expected for fault cases.${zeroNote(cases.length - drawn.length, "case(s)")}${note}`,
    spec: {
      ...common(title, description),
      height: { step: 13 },
      layer: [
        {
          // Names label the axis as vega writes them: control characters shown, never raw.
          data: { values: drawn.map((c) => ({ ...c, name: escapeControlCharacters(c.name), base: barStart })) },
          mark: { type: "bar" },
          encoding: {
            y: {
              field: "name",
              type: "nominal",
              title: null,
              sort: { field: "ratio", order: "descending" },
              axis: { labelLimit: 300, labelFontSize: 10 },
            },
            x: {
              field: "ratio",
              type: "quantitative",
              title: "worst |error| / allowance",
              scale: { type: "log", domainMin: barStart },
            },
            x2: { field: "base" },
            color: standingMarks("case").color,
          },
        },
        {
          data: { values: [{ one: 1 }] },
          mark: { type: "rule", strokeDash: [5, 4], color: "#888" },
          encoding: { x: { field: "one", type: "quantitative" } },
        },
      ],
    } as TopLevelSpec,
  };
}

export interface NamedValue {
  readonly name: string;
  readonly value: number;
  readonly standing: Standing;
}

/** Named bars on a log scale, largest first (detect's candidates, matrix's preset pairs). */
export function namedBarsChart(
  id: string,
  title: string,
  valueTitle: string,
  values: readonly NamedValue[],
  line: number | null,
  caption: string,
): Chart {
  const drawn = values.filter((v) => v.value > 0 && Number.isFinite(v.value));
  const barStart = logBase([...drawn.map((v) => v.value), ...(line === null ? [] : [line])]);
  const description = `${title}: ${drawn
    .slice(0, 12)
    .map((v) => `${v.name}: ${formatNumber(v.value)}`)
    .join("; ")}${drawn.length > 12 ? "; …" : ""}.`;
  const bars = {
    data: { values: drawn.map((v) => ({ ...v, name: escapeControlCharacters(v.name), base: barStart })) },
    mark: { type: "bar" },
    encoding: {
      y: {
        field: "name",
        type: "nominal",
        title: null,
        sort: { field: "value", order: "descending" },
        axis: { labelLimit: 360, labelFontSize: 10 },
      },
      x: { field: "value", type: "quantitative", title: valueTitle, scale: { type: "log", domainMin: barStart } },
      x2: { field: "base" },
      color: standingMarks("verdict").color,
    },
  };
  const rule =
    line === null
      ? []
      : [
          {
            data: { values: [{ line }] },
            mark: { type: "rule", strokeDash: [5, 4], color: "#888" },
            encoding: { x: { field: "line", type: "quantitative" } },
          },
        ];
  return {
    id,
    title,
    description,
    caption: `${caption}${zeroNote(values.length - drawn.length, "bar(s)")}`,
    spec: { ...common(title, description), height: { step: 14 }, layer: [bars, ...rule] } as TopLevelSpec,
  };
}
