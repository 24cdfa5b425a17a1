/**
 * The report for people: what was run, the verdict, and for each checked tensor the statistics a
 * user needs to tell a wrong statistic from a wrong eps or a rounding difference. Colour is an
 * input (never detected here).
 */
import { Chalk, type ChalkInstance } from "chalk";
import Table from "cli-table3";
import { ESTIMATOR_FORMULAS } from "../../conventions/alternatives.js";
import type { ChannelReport, ElementReport, TensorComparison } from "../../check/compare.js";
import { formatShape } from "../../core/tensor.js";
import { renderFoldText } from "./fold.js";
import {
  casesOf,
  type CaseReport,
  type DetectReport,
  type MatrixReport,
  type Report,
  type RunReport,
  type SuiteReport,
} from "../../app/reports.js";
import { escapeControlCharacters, formatIndex, formatNumber, formatPercent, formatValue } from "../../core/format.js";

export interface TextOptions {
  readonly color: boolean;
  /** Rows shown in the per-channel and worst-element tables. */
  readonly maxRows?: number;
}

const DIGITS: Record<string, number> = { float16: 5, bfloat16: 4, float32: 9, float64: 17 };

export function table(head: string[], rows: string[][], color: boolean): string {
  const rendered = new Table({
    head,
    style: {
      head: color ? ["cyan"] : [],
      border: color ? ["grey"] : [],
      compact: true,
      "padding-left": 1,
      "padding-right": 1,
    },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  rendered.push(...rows);
  return rendered.toString();
}

function describeElement(element: ElementReport, digits: number): string {
  return (
    `at ${formatIndex(element.index)} (bn-check ${formatValue(element.actual, 17)}, ` +
    `ref ${formatValue(element.expected, digits)})`
  );
}

/**
 * The headline after PASS/FAIL: how many elements fail, and whether the reference's arithmetic accounts for the rest.
 */
function mismatchSummary(comparison: TensorComparison, paint: ChalkInstance): string {
  const bound = comparison.bound;
  const arithmetic = bound === null ? "" : ` ${bound.computeDtype} arithmetic`;
  let mismatchText: string;
  if (comparison.verdict === "conforms within arithmetic") {
    mismatchText =
      `${paint.yellow(`within${arithmetic}`)}  ${comparison.flatMismatches} ` +
      `/ ${comparison.count} elements outside the flat tolerance ` +
      `(${formatPercent(comparison.flatMismatches, comparison.count)}), ` +
      `none beyond what${arithmetic} can make`;
  } else if (bound !== null && comparison.flatMismatches > comparison.mismatches) {
    mismatchText =
      `${comparison.mismatches} / ${comparison.count} elements beyond the allowance ` +
      `(${formatPercent(comparison.mismatches, comparison.count)}); ` +
      `${comparison.flatMismatches} outside the flat tolerance, the others within${arithmetic}`;
  } else if (bound !== null && comparison.mismatches > comparison.nonFiniteMismatches) {
    mismatchText =
      `${comparison.mismatches} / ${comparison.count} elements outside ` +
      `tolerance (${formatPercent(comparison.mismatches, comparison.count)}` +
      `), and beyond what${arithmetic} can make`;
  } else {
    mismatchText =
      `${comparison.mismatches} / ${comparison.count} elements outside ` +
      `tolerance (${formatPercent(comparison.mismatches, comparison.count)})`;
  }
  return mismatchText;
}

/** Tolerance, error model, and the largest errors by each measure. */
function errorLines(comparison: TensorComparison, paint: ChalkInstance, digits: number): string[] {
  const lines: string[] = [];
  const tol = comparison.tolerance;
  const bound = comparison.bound;
  lines.push(
    `  tolerance       |bn-check - ref| <= ${formatNumber(tol.atol)} + ${formatNumber(tol.rtol)} ` +
      `* |ref|  (${tol.source}); NaN ${tol.equalNan ? "matches NaN" : "never matches"}`,
  );
  if (bound === null) {
    if (comparison.name === "output" && comparison.channelAxis !== null)
      lines.push("  error model     off (--strict): the flat tolerance alone decides");
  } else if (comparison.flatMismatches > comparison.nonFiniteMismatches && bound.element !== null) {
    const ratio = `${formatNumber(bound.maxRatio)}${bound.maxRatio <= 1 ? "" : " (> 1: beyond it)"}`;
    lines.push(
      `  error model     max |error| / bound ${ratio} at ${formatIndex(bound.element.index)}` +
        `${bound.dominantTerm ? `; largest term: ${bound.dominantTerm}` : ""}`,
    );
  }
  if (comparison.nonFiniteMismatches > 0)
    lines.push(
      paint.red(`  non-finite      ${comparison.nonFiniteMismatches} elements where NaN or an infinity is not matched`),
    );
  lines.push(
    `  max abs error   ` +
      (comparison.maxAbsError === null
        ? "0"
        : `${formatNumber(comparison.maxAbsError.absError)} ${describeElement(comparison.maxAbsError, digits)}`),
  );
  lines.push(
    `  max rel error   ` +
      (comparison.maxRelError === null
        ? "0"
        : `${formatNumber(comparison.maxRelError.relError)} ${describeElement(comparison.maxRelError, digits)}`),
  );
  lines.push(
    `  max ulp         ` +
      (comparison.maxUlp === null
        ? "0"
        : `${comparison.maxUlp.ulps} (${comparison.ulpDtype}) at ${formatIndex(comparison.maxUlp.element.index)}`),
  );
  lines.push(`  mean abs error  ${formatNumber(comparison.meanAbsError)}`);
  lines.push(
    `  would pass with atol >= ${formatNumber(comparison.requiredAtol)} (at rtol ${formatNumber(tol.rtol)}), ` +
      `or rtol >= ${formatNumber(comparison.requiredRtol)} (at atol ${formatNumber(tol.atol)})`,
  );

  return lines;
}

function histogramLines(comparison: TensorComparison): string[] {
  const lines: string[] = [];
  if (comparison.ulpHistogram.length > 0) {
    const total = comparison.count;
    const widest = Math.max(...comparison.ulpHistogram.map((b) => b.count));
    lines.push(`  ulp histogram   (${comparison.ulpDtype} ulps: elements)`);
    for (const bucket of comparison.ulpHistogram) {
      const bar = "#".repeat(Math.max(1, Math.round((24 * bucket.count) / widest)));
      lines.push(
        `    ${bucket.ulps.padStart(12)}  ${String(bucket.count).padStart(10)}` +
          `  ${formatPercent(bucket.count, total).padStart(9)}  ${bar}`,
      );
    }
  }
  return lines;
}

/** The per-channel table: the failing channels, or those outside the flat tolerance but within the bound. */
function channelLines(
  comparison: TensorComparison,
  options: TextOptions,
  channelVariance: readonly number[] | null,
  maxRows: number,
): string[] {
  const lines: string[] = [];
  if (comparison.channelsOmitted > 0)
    lines.push(
      `  channels        ${comparison.channelCount} in all; the table lists the worst ` +
        `${comparison.channels.length} of the ${comparison.channels.length + comparison.channelsOmitted} ` +
        `outside the flat tolerance (--all-channels lists every one)`,
    );
  const failing = comparison.channels.filter((channel) => channel.mismatches > 0);
  const withinBound = comparison.channels.filter((channel) => channel.mismatches === 0 && channel.flatMismatches > 0);
  if (comparison.channelAxis !== null && comparison.channels.length > 1) {
    if (failing.length === 0 && withinBound.length === 0) {
      lines.push(
        `  channels        all ${comparison.channels.length} within tolerance (axis ${comparison.channelAxis})`,
      );
    } else if (failing.length === 0) {
      lines.push(
        `  channels        ${withinBound.length} of ${comparison.channels.length} outside the ` +
          `flat tolerance but within the bound (axis ${comparison.channelAxis})` +
          `${withinBound.length > maxRows ? `; the ${maxRows} closest to it:` : ":"}`,
      );
      const shown = [...withinBound]
        .sort((a, b) => b.boundRatio - a.boundRatio || a.channel - b.channel)
        .slice(0, maxRows)
        .sort((a, b) => a.channel - b.channel);
      const rows = shown.map((channel) => [
        String(channel.channel),
        `${channel.flatMismatches} / ${channel.count}`,
        formatNumber(channel.maxAbsError),
        formatConditioning(channel.conditioning),
        formatNumber(channel.boundRatio),
        channel.dominantTerm ?? "",
      ]);
      lines.push(
        indent(
          table(
            ["channel", "outside flat tol", "max abs err", "|mean|/std", "err/bound", "largest term"],
            rows,
            options.color,
          ),
        ),
      );
    } else {
      lines.push(
        `  channels        ${failing.length} of ${comparison.channels.length} fail (axis ` +
          `${comparison.channelAxis})${failing.length > maxRows ? `; the ${maxRows} with most mismatches:` : ":"}`,
      );
      const shown = [...failing]
        .sort((a, b) => b.mismatches - a.mismatches || a.channel - b.channel)
        .slice(0, maxRows)
        .sort((a, b) => a.channel - b.channel);
      // The batch variance tells a wrong eps (errors grow as eps/var) from a wrong statistic.
      const modelled = comparison.bound !== null;
      const head = [
        "channel",
        "mismatched",
        "max abs err",
        "max rel err",
        "max ulp",
        ...(channelVariance ? ["batch var"] : []),
        ...(modelled ? ["|mean|/std", "err/bound"] : []),
      ];
      const rows = shown.map((channel) => [
        ...channelRow(channel),
        ...(channelVariance ? [formatNumber(channelVariance[channel.channel])] : []),
        ...(modelled ? [formatConditioning(channel.conditioning), formatNumber(channel.boundRatio)] : []),
      ]);
      lines.push(indent(table(head, rows, options.color)));
    }
  }
  return lines;
}

/** The worst elements beyond their allowance. */
function worstLines(comparison: TensorComparison, options: TextOptions, digits: number, maxRows: number): string[] {
  const lines: string[] = [];
  const worst = comparison.worst.filter(
    (element) => element.absError > element.allowed || Number.isNaN(element.absError),
  );
  if (worst.length > 0) {
    const modelled = comparison.bound !== null;
    lines.push(`  worst elements${modelled ? " (by excess over the allowance max(flat, bound))" : ""}:`);
    lines.push(
      indent(
        table(
          ["index", "bn-check", "ref", "abs err", modelled ? "flat tol" : "allowed", ...(modelled ? ["bound"] : [])],
          worst
            .slice(0, maxRows)
            .map((e) => [
              formatIndex(e.index),
              formatValue(e.actual, 10),
              formatValue(e.expected, digits),
              formatNumber(e.absError),
              formatNumber(e.allowed),
              ...(modelled ? [e.bound === null ? "—" : formatNumber(e.bound)] : []),
            ]),
          options.color,
        ),
      ),
    );
  }
  return lines;
}

function renderTensor(
  comparison: TensorComparison,
  paint: ChalkInstance,
  options: TextOptions,
  channelVariance: readonly number[] | null,
): string[] {
  const status = comparison.passed ? paint.green.bold("PASS") : paint.red.bold("FAIL");
  if (comparison.shapeMismatch) {
    return [
      `${paint.bold(comparison.name)}: ${status}  shape mismatch: bn-check computes ` +
        `${formatShape(comparison.shape)}, the reference is ${formatShape(comparison.expectedShape)}`,
      "  (a reference in another layout, e.g. NHWC saved for an NCHW input, or the wrong file)",
    ];
  }
  const digits = DIGITS[comparison.ulpDtype] ?? 9;
  const maxRows = options.maxRows ?? 12;
  return [
    `${paint.bold(comparison.name)}: ${status}  ${mismatchSummary(comparison, paint)}`,
    ...errorLines(comparison, paint, digits),
    ...histogramLines(comparison),
    ...channelLines(comparison, options, channelVariance, maxRows),
    ...worstLines(comparison, options, digits, maxRows),
  ];
}

function formatConditioning(value: number | null): string {
  return value === null ? "—" : formatNumber(Number(value.toPrecision(2)));
}

function channelRow(channel: ChannelReport): string[] {
  return [
    String(channel.channel),
    `${channel.mismatches} / ${channel.count}`,
    formatNumber(channel.maxAbsError),
    formatNumber(channel.maxRelError),
    String(channel.maxUlp),
  ];
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

function renderCase(report: CaseReport, paint: ChalkInstance, options: TextOptions, title: string): string[] {
  const c = report.convention;
  const lines: string[] = [];
  lines.push(paint.bold(escapeControlCharacters(title)));
  for (const file of report.files)
    lines.push(
      `  ${file.role.padEnd(16)} ${escapeControlCharacters(file.path)}  ${file.dtype} ${formatShape(file.shape)}`,
    );
  if (c !== null) {
    const momentum = c.momentum === null ? "none (cumulative average)" : `${c.momentum} (${c.momentumMeaning})`;
    const epsilon =
      c.epsilon === c.requestedEpsilon
        ? formatNumber(c.epsilon)
        : `${formatNumber(c.epsilon)} (raised from ${formatNumber(c.requestedEpsilon)} by the ${c.framework} floor)`;
    lines.push(`  mode ${c.mode} · layout ${c.layout} (channel axis ${c.channelAxis}) · eps ${epsilon}`);
    if (c.mode === "train" && c.runningVarEstimator !== "none")
      lines.push(
        `  momentum ${momentum} · running var ${c.runningVarEstimator} ` +
          `(${ESTIMATOR_FORMULAS[c.runningVarEstimator]})${c.variant ? ` · ${c.variant} path` : ""}`,
      );
  }
  if (report.steps !== null) {
    const divergence =
      report.steps.firstDivergentStep === null
        ? "every step conforms"
        : `first divergent step: ${report.steps.firstDivergentStep}`;
    lines.push(`  steps ${report.steps.count} (running statistics carried from step to step) · ${divergence}`);
  }
  lines.push(`  threads ${report.timings.threads}`);
  lines.push("");
  if (report.status === "error") {
    lines.push(paint.red(`  could not check: ${escapeControlCharacters(report.error ?? "")}`), "");
    return lines;
  }
  for (const comparison of report.tensors) {
    const variance = comparison.name === "output" ? (report.batchStatistics?.variance ?? null) : null;
    lines.push(...renderTensor(comparison, paint, options, variance));
    lines.push("");
  }
  for (const hint of report.hints) lines.push(paint.yellow(`hint: ${escapeControlCharacters(hint)}`));
  if (report.hints.length > 0) lines.push("");
  return lines;
}

function verdictLine(report: CaseReport, paint: ChalkInstance): string {
  const c = report.convention;
  const what = c === null ? "the reference" : `${c.framework} BatchNorm (${c.mode})`;
  if (report.verdict === "conforms within arithmetic") {
    const modelled = report.tensors.filter((t) => t.verdict === "conforms within arithmetic");
    const dtype = modelled.find((t) => t.bound !== null)?.bound?.computeDtype ?? "its own";
    const channels = modelled.flatMap((t) =>
      t.name === "output" ? t.channels.filter((ch) => ch.flatMismatches > 0) : [],
    );
    const worst = channels.reduce<ChannelReport | null>(
      (a, b) => (a === null || (b.conditioning ?? 0) > (a.conditioning ?? 0) ? b : a),
      null,
    );
    const where =
      worst === null
        ? modelled.map((t) => t.name).join(", ")
        : `${channels.length} channel(s) of the output, |mean|/std up to ${formatConditioning(worst.conditioning)}`;
    return paint.yellow.bold(
      `CONFORMS WITHIN ${dtype.toUpperCase()} ARITHMETIC: the reference differs from exact ` +
        `${what} by more than the flat tolerance (${where}), but no more than a numerically ` +
        `stable ${dtype} implementation can (--strict judges by the flat tolerance alone)`,
    );
  }
  if (report.conforms)
    return paint.green.bold(
      c === null
        ? "CONFORMS: the tensors agree within tolerance"
        : `CONFORMS: the reference agrees with ${what} within tolerance`,
    );
  const failed = report.tensors
    .filter((t) => !t.passed)
    .map((t) => (t.shapeMismatch ? `${t.name} (shape)` : `${t.name} (${t.mismatches} / ${t.count})`));
  return paint.red.bold(`DOES NOT CONFORM${c === null ? "" : ` to ${what}`}: ${failed.join(", ")}`);
}

function renderSuite(report: SuiteReport, paint: ChalkInstance, options: TextOptions): string {
  const lines: string[] = [];
  const s = report.summary;
  const model = report.model;
  const where =
    model === undefined
      ? `${escapeControlCharacters(report.source)}` +
        `${report.shard ? ` (shard ${report.shard.index}/${report.shard.count})` : ""}`
      : `${escapeControlCharacters(model.params)} + ${escapeControlCharacters(model.activations)} ` +
        `(${model.layersSelected} of ${model.layersFound} BatchNorm layers, ${model.naming} naming)`;
  lines.push(
    paint.bold(
      `bn-check ${report.command}: ${where}` +
        `${report.filter ? ` (${model === undefined ? "filter" : "layers"} ${report.filter})` : ""}`,
    ),
  );
  // Layers a model-level finding explains are listed by name after the first: same cause, same report.
  const explained = new Set(model?.findings.flatMap((finding) => finding.layers.slice(1)) ?? []);
  for (const c of report.cases.filter((c) => c.status !== "pass" && !explained.has(c.name))) {
    lines.push("");
    lines.push(
      ...renderCase(
        c,
        paint,
        options,
        `${c.status === "error" ? "ERROR" : "FAIL"}  ` +
          `${c.name}${c.expected === "mismatch" ? " (expected a mismatch)" : ""}`,
      ),
    );
    if (c.status === "fail" && c.expected === "mismatch")
      lines.push(paint.red("  expected a mismatch, but every tensor is within tolerance"));
  }
  for (const finding of model?.findings ?? []) {
    lines.push("", paint.bold(`finding: ${escapeControlCharacters(finding.message)}`));
    if (finding.layers.length > 1)
      lines.push(
        `  (${escapeControlCharacters(finding.layers.slice(1).join(", "))} fail ` +
          `the same way as ${escapeControlCharacters(finding.layers[0])} above)`,
      );
  }
  lines.push("");
  const status = { pass: paint.green("pass"), fail: paint.red("FAIL"), error: paint.red("ERROR") };
  const rows = report.cases.map((c) => {
    const failing = c.tensors.filter((t) => !t.passed).map((t) => t.name);
    const worst = Math.max(0, ...c.tensors.map((t) => t.maxAbsError?.absError ?? 0));
    const outcome =
      c.status === "error"
        ? "could not check"
        : c.verdict === "conforms within arithmetic"
          ? "match (within arithmetic)"
          : c.conforms
            ? "match"
            : `mismatch: ${failing.join(", ")}`;
    return [escapeControlCharacters(c.name), c.expected, outcome, formatNumber(worst), status[c.status]];
  });
  lines.push(table(["case", "expected", "found", "max abs err", "result"], rows, options.color));
  const summary =
    `${s.passed} / ${s.total} passed · ${s.failed} failed · ${s.errors} ` +
    `could not be checked · ${s.expectedMismatches} expected mismatches ` +
    `found${s.skipped > 0 ? ` · ${s.skipped} not run (interrupted)` : ""}`;
  lines.push(report.conforms ? paint.green.bold(summary) : paint.red.bold(summary));
  return `${lines.join("\n")}\n`;
}

function renderMatrix(report: MatrixReport, paint: ChalkInstance, options: TextOptions): string {
  const lines: string[] = [];
  lines.push(
    paint.bold(
      `bn-check matrix: ${report.files[0]?.path ?? ""} (${report.mode}, ` +
        `${report.layout}, channel axis ${report.channelAxis})`,
    ),
  );
  lines.push(
    table(
      ["preset", "eps", "momentum", "running var"],
      report.presets.map((p) => [`${p.name} (${p.label})`, formatNumber(p.epsilon), p.momentum, p.runningVar]),
      options.color,
    ),
  );
  const names = [...report.presets.map((p) => p.name), ...(report.pairs.some((p) => p.b === "ref") ? ["ref"] : [])];
  const lookup = (a: string, b: string) =>
    report.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
  lines.push("", `output: max |difference| (upper right) and max ulps in ${report.ulpDtype} (lower left)`);
  lines.push(
    table(
      ["", ...names],
      names.map((a, i) => [
        a,
        ...names.map((b, j) =>
          i === j ? "—" : i < j ? formatNumber(lookup(a, b)!.outputMaxAbs) : String(lookup(a, b)!.outputMaxUlp),
        ),
      ]),
      options.color,
    ),
  );
  lines.push("", "why they differ:");
  for (const pair of report.pairs) {
    const running =
      pair.runningVarMaxAbs === null ? "" : `; running var max |diff| ${formatNumber(pair.runningVarMaxAbs)}`;
    const why = pair.causes.length === 0 ? (pair.outputMaxAbs === 0 ? "identical" : "") : pair.causes.join("; ");
    lines.push(
      `  ${`${pair.a} vs ${pair.b}`.padEnd(18)} output max |diff| ${formatNumber(pair.outputMaxAbs)} ` +
        `(${pair.outputMaxUlp} ulp)${running}${why ? ` — ${why}` : ""}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function renderRun(report: RunReport, paint: ChalkInstance): string {
  const lines = [
    paint.bold(
      `bn-check run: ${report.convention.framework} (${report.convention.label}), ${report.convention.mode}, ` +
        `${report.convention.layout}, eps ${formatNumber(report.convention.epsilon)}`,
    ),
  ];
  for (const file of report.written) lines.push(`  wrote ${file.path}  ${file.dtype} ${formatShape(file.shape)}`);
  return `${lines.join("\n")}\n`;
}

function renderDetect(report: DetectReport, paint: ChalkInstance, options: TextOptions): string {
  const lines = [paint.bold("bn-check detect")];
  for (const file of report.files)
    lines.push(
      `  ${file.role.padEnd(16)} ${escapeControlCharacters(file.path)}  ${file.dtype} ${formatShape(file.shape)}`,
    );
  lines.push(
    `  verdicts under ${report.tolerance.source} (atol ` +
      `${formatNumber(report.tolerance.atol)}, rtol ${formatNumber(report.tolerance.rtol)})`,
    "",
  );
  const shown = report.candidates.slice(0, options.maxRows ?? 10);
  lines.push(
    table(
      ["#", "candidate", "verdict", "max abs err", "max ulp", "mismatched", "running stats"],
      shown.map((c, k) => [
        String(k + 1),
        c.description,
        c.verdict === "conforms"
          ? paint.green("conforms")
          : c.verdict === "conforms within arithmetic"
            ? paint.yellow("within arithmetic")
            : "no",
        formatNumber(c.maxAbsError),
        String(c.maxUlp),
        `${c.mismatches} / ${c.count}${c.checkedFully ? "" : " (prefix)"}`,
        c.runningStatsPassed === null
          ? "—"
          : c.runningStatsPassed
            ? `match (momentum ${c.momentum}, ${c.runningVar})`
            : "no",
      ]),
      options.color,
    ),
  );
  const fitted = report.fittedEpsilon
    .filter((f) => f.consistent)
    .map((f) => `${f.mode} axis ${f.channelAxis}: ${f.value}`);
  if (fitted.length > 0) lines.push(`fitted eps (consistent across channels): ${fitted.join("; ")}`);
  if (report.runningStats) lines.push(`running statistics: ${report.runningStats.description}`);
  if (report.gradients) {
    lines.push(
      `gradients: ${report.gradients.description} ` +
        `(${report.gradients.tensors.map((t) => `${t.name} ${t.verdict}`).join(", ")})`,
    );
    for (const hint of report.gradients.hints) lines.push(`hint: ${escapeControlCharacters(hint)}`);
  }
  lines.push(`${report.equivalent.length} candidate(s) explain the reference as well as the best`);
  lines.push("", paint.bold(report.diagnosis));
  return `${lines.join("\n")}\n`;
}

export function renderText(report: Report, options: TextOptions): string {
  const paint = new Chalk({ level: options.color ? 1 : 0 });
  switch (report.command) {
    case "detect":
      return renderDetect(report, paint, options);
    case "suite":
    case "model":
      return renderSuite(report, paint, options);
    case "matrix":
      return renderMatrix(report, paint, options);
    case "run":
      return renderRun(report, paint);
    case "fold":
      return renderFoldText(report, paint, table, options.color);
    default: {
      const [only] = casesOf(report);
      const title =
        report.command === "compare"
          ? `bn-check compare: ${report.convention?.framework} (${report.convention?.label})`
          : "bn-check diff";
      return `${[...renderCase(only, paint, options, title), verdictLine(only, paint)].join("\n")}\n`;
    }
  }
}
