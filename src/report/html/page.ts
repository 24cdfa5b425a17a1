/**
 * The HTML report: one self-contained page (inline CSS and SVG, no script, font or image from
 * anywhere), the verdict first, then charts and tables. Suite-shaped reports (anything with cases
 * and a summary: `suite`, and `model` when it lands) are rendered by their shape: the summary and
 * the cases chart first, then each case folded in a <details>.
 *
 * A suite page stays small over a whole corpus: per-case charts are drawn only for the
 * CASES_WITH_CHARTS most notable cases (failing first, then the ones that found a mismatch or
 * conform only within arithmetic, worst ratio first); every other case gets its tables only, and
 * a case's per-channel table shows at most SUITE_CHANNEL_ROWS rows, and a case that passed and has
 * no charts shows its tensors table only (its per-channel and worst elements are in the JSON).
 */
import { formatNumber } from "../../core/format.js";
import type {
  CaseReport,
  CompareReport,
  DetectReport,
  FoldLayerReport,
  FoldReport,
  MatrixReport,
  Report,
  SuiteReport,
} from "../../app/reports.js";
import { casesOf } from "../../app/reports.js";
import { caseCharts, caseRatio, focusTensor, suiteChart } from "./case-charts.js";
import { type Chart, namedBarsChart, type Standing } from "./charts.js";
import { escapeHtml } from "./escape.js";
import { STYLE } from "./style.js";
import { renderSvg } from "./svg.js";
import { casesTable, channelsTable, filesTable, table, tensorsTable, VERDICT_CLASS, worstTable } from "./tables.js";

export const CASES_WITH_CHARTS = 12;
const SUITE_CHANNEL_ROWS = 64;
const COMPARE_CHANNEL_ROWS = 1024;

/** Reports with cases and a summary (suite, model): rendered by their shape. */
export type SuiteShaped = SuiteReport;
export function isSuiteShaped(report: Report): report is SuiteShaped {
  return report.command === "suite" || report.command === "model";
}

async function figure(chart: Chart): Promise<string> {
  return (
    `<figure>${await renderSvg(chart, { standalone: false })}` +
    `<figcaption>${escapeHtml(chart.caption)}</figcaption></figure>`
  );
}

async function figures(charts: readonly Chart[]): Promise<string> {
  const parts: string[] = [];
  // One at a time: vega's views are not meant to run interleaved, and the work is CPU-bound anyway.
  for (const chart of charts) parts.push(await figure(chart));
  return parts.join("\n");
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline';">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function verdictBadge(verdict: string, className: string): string {
  return `<span class="verdict ${className}" data-verdict>${escapeHtml(verdict)}</span>`;
}

function toolLine(report: Report): string {
  return `<p class="meta">bn-check ${escapeHtml(report.tool.version)} · ${escapeHtml(report.command)}</p>`;
}

function conventionLine(found: CaseReport): string {
  const c = found.convention;
  if (c === null) return "";
  const momentum = c.momentum === null ? "momentum none" : `momentum ${c.momentum}`;
  return `<p class="meta">${escapeHtml(`${c.label} · ${c.mode} · ${c.layout} (channel axis ${c.channelAxis}) · eps ${formatNumber(c.epsilon)} · ${momentum}${found.steps ? ` · ${found.steps.count} steps` : ""}`)}</p>`;
}

function hintsList(hints: readonly string[]): string {
  return hints.length === 0
    ? ""
    : `<ul class="hints">${hints.map((h) => `<li>hint: ${escapeHtml(h)}</li>`).join("")}</ul>`;
}

/** A case's body: convention, files, hints, tensors, charts (when asked), per-channel and worst-element tables. */
async function caseBody(
  found: CaseReport,
  options: { charts: boolean; channelRows: number; elementTables: boolean },
): Promise<string> {
  if (found.status === "error")
    return `<p class="s-error">could not check: ${escapeHtml(found.error ?? "")}</p>${filesTable(found.files)}`;
  const focus = focusTensor(found.tensors);
  const notable = options.elementTables ? found.tensors.filter((t) => !t.passed || t === focus) : [];
  return [
    conventionLine(found),
    hintsList(found.hints),
    tensorsTable(found.tensors),
    options.charts ? await figures(caseCharts(found)) : "",
    ...notable.map((t) => channelsTable(t, options.channelRows)),
    ...notable.map(worstTable),
    options.elementTables
      ? ""
      : `<p class="note">Passed as expected: its per-channel and ` +
        `worst-element tables are in the JSON report (--format json).</p>`,
    `<details><summary>files</summary>${filesTable(found.files)}</details>`,
  ].join("\n");
}

async function comparePage(report: CompareReport): Promise<string> {
  const [only] = casesOf(report);
  const heading =
    `<h1>bn-check ${escapeHtml(report.command)}: ` +
    `${verdictBadge(report.verdict, VERDICT_CLASS[report.verdict])}</h1>`;
  const reference = report.files.find((f) => f.role === "reference")?.path ?? "";
  const body = await caseBody(only, { charts: true, channelRows: COMPARE_CHANNEL_ROWS, elementTables: true });
  return page(
    `bn-check ${report.command}: ${report.verdict} — ${reference}`,
    `${heading}\n${toolLine(report)}\n<p>reference: <code>${escapeHtml(reference)}</code></p>\n${body}`,
  );
}

const standingOf = (c: CaseReport): number =>
  c.status === "fail" ? 3 : c.verdict === "does not conform" ? 2 : c.verdict === "conforms within arithmetic" ? 1 : 0;

/**
 * The cases whose charts are drawn: failing first, then mismatches found, then within arithmetic, worst ratio first.
 */
function casesWithCharts(cases: readonly CaseReport[]): Set<CaseReport> {
  const notable = cases.filter((c) => c.status !== "error" && standingOf(c) > 0);
  notable.sort((a, b) => standingOf(b) - standingOf(a) || (caseRatio(b) ?? 0) - (caseRatio(a) ?? 0));
  return new Set(notable.slice(0, CASES_WITH_CHARTS));
}

/** `model`: where the layers came from, and the findings that explain many failing layers at once. */
function modelSection(report: SuiteShaped): string {
  const model = report.model;
  if (model === undefined) return "";
  const files =
    `<p class="meta">parameters <code>${escapeHtml(model.params)}</code> ` +
    `· activations <code>${escapeHtml(model.activations)}</code>` +
    (model.refParams === null ? "" : ` · after the call <code>${escapeHtml(model.refParams)}</code>`) +
    ` · ${model.layersSelected} of ${model.layersFound} BatchNorm layers (${escapeHtml(model.naming)} naming)</p>`;
  const findings = model.findings.map(
    (finding) => `<p class="finding"><strong>Finding:</strong> ${escapeHtml(finding.message)}</p>`,
  );
  return [files, ...findings].join("\n");
}

async function suitePage(report: SuiteShaped): Promise<string> {
  const s = report.summary;
  const verdict = report.conforms ? verdictBadge("passed", "v-conforms") : verdictBadge("failed", "v-fail");
  const heading = `<h1>bn-check ${escapeHtml(report.command)}: ${verdict} ${s.passed} / ${s.total} passed</h1>`;
  const summary = table(
    ["cases", "passed", "failed", "could not check", "expected mismatches found", "not run"],
    [
      [s.total, s.passed, s.failed, s.errors, s.expectedMismatches, s.skipped].map((n) => ({
        text: String(n),
        numeric: true,
      })),
    ],
  );
  const chart = suiteChart(report.cases);
  const charted = casesWithCharts(report.cases);
  const notableCount = report.cases.filter((c) => c.status !== "error" && standingOf(c) > 0).length;
  const chartNote =
    `Charts are drawn for ${charted.size} case(s): the failing ones first, ` +
    `then those that found a mismatch or conform only within arithmetic` +
    (notableCount > charted.size ? ` (the ${CASES_WITH_CHARTS} most notable of ${notableCount})` : "") +
    `; the others show their tables.`;
  const sections: string[] = [];
  for (const entry of report.cases) {
    const label = `${entry.name} — ${entry.status}${entry.verdict === null ? "" : `, ${entry.verdict}`}`;
    // A case that passed and has no charts gets its tensors table only: over a corpus, the per-channel
    // tables of hundreds of cases that behaved as expected would be most of the page.
    const elementTables = entry.status !== "pass" || charted.has(entry);
    const body = await caseBody(entry, { charts: charted.has(entry), channelRows: SUITE_CHANNEL_ROWS, elementTables });
    sections.push(
      `<details class="case s-${entry.status}-case"><summary><span ` +
        `class="s-${entry.status}">${escapeHtml(entry.status)}` +
        `</span> ${escapeHtml(label)}</summary>\n${body}\n</details>`,
    );
  }
  const source =
    `<p class="meta">source <code>${escapeHtml(report.source)}</code>` +
    `${report.filter === null ? "" : ` · filter <code>${escapeHtml(report.filter)}</code>`}` +
    `${report.shard === null ? "" : ` · shard ${report.shard.index}/${report.shard.count}`}` +
    ` · ${formatNumber(report.timings.totalMs / 1000)} s</p>`;
  return page(
    `bn-check ${report.command}: ${s.passed} / ${s.total} passed`,
    [
      heading,
      toolLine(report),
      source,
      modelSection(report),
      summary,
      chart === null ? "" : await figure(chart),
      `<h2>${report.model === undefined ? "Cases" : "Layers"}</h2>`,
      casesTable(report.cases, caseRatio),
      `<p class="note">${escapeHtml(chartNote)}</p>`,
      ...sections,
    ].join("\n"),
  );
}

const DETECT_CANDIDATES_SHOWN = 20;

function detectChart(report: DetectReport): Chart {
  const standing = (verdict: DetectReport["best"]["verdict"]): Standing =>
    verdict === "does not conform"
      ? "outside allowance"
      : verdict === "conforms within arithmetic"
        ? "within arithmetic bound"
        : "within flat tolerance";
  const shown = report.candidates.slice(0, DETECT_CANDIDATES_SHOWN);
  return namedBarsChart(
    "candidates",
    "Candidates by max |error|",
    "max |error| against the reference",
    shown.map((c) => ({ name: c.description, value: c.maxAbsError, standing: standing(c.verdict) })),
    report.tolerance.atol,
    `The ${shown.length} best of ${report.candidates.length} candidate conventions by their max absolute error ` +
      `against the reference (log scale); the dashed line is atol ${formatNumber(report.tolerance.atol)}.`,
  );
}

async function detectPage(report: DetectReport): Promise<string> {
  const best = report.best;
  const heading = `<h1>bn-check detect: ${verdictBadge(best.verdict, VERDICT_CLASS[best.verdict])}</h1>`;
  const shown = report.candidates.slice(0, DETECT_CANDIDATES_SHOWN);
  const chart = detectChart(report);
  const rows = shown.map((c) => [
    { text: c.description },
    { text: c.verdict, className: VERDICT_CLASS[c.verdict] },
    { text: formatNumber(c.maxAbsError), numeric: true },
    { text: String(c.maxUlp), numeric: true },
    { text: `${c.mismatches} / ${c.count}`, numeric: true },
  ]);
  const gradients =
    report.gradients === null
      ? ""
      : `<p>Gradients: ${escapeHtml(report.gradients.description)}.</p>${hintsList(report.gradients.hints)}`;
  return page(
    `bn-check detect: ${best.description}`,
    [
      heading,
      toolLine(report),
      `<p>${escapeHtml(report.diagnosis)}</p>`,
      gradients,
      await figure(chart),
      table(["candidate", "verdict", "max abs err", "max ulp", "mismatched"], rows),
      filesTable(report.files),
    ].join("\n"),
  );
}

function matrixChart(report: MatrixReport): Chart {
  return namedBarsChart(
    "pairs",
    "Preset pairs by output max |difference|",
    "output max |a − b|",
    report.pairs.map((p) => ({
      name: `${p.a} vs ${p.b}`,
      value: p.outputMaxAbs,
      standing: "within flat tolerance" as const,
    })),
    null,
    `How far BatchNorm of the one input lands under each pair of ` +
      `presets (log scale); pairs that agree exactly are not drawn.`,
  );
}

async function matrixPage(report: MatrixReport): Promise<string> {
  const heading = `<h1>bn-check matrix</h1>`;
  const chart = matrixChart(report);
  const presets = table(
    ["preset", "eps", "momentum", "running var"],
    report.presets.map((p) => [
      { text: p.name },
      { text: formatNumber(p.epsilon), numeric: true },
      { text: p.momentum },
      { text: p.runningVar },
    ]),
  );
  const pairs = table(
    ["pair", "output max abs", `max ulp (${report.ulpDtype})`, "running var max abs", "why"],
    report.pairs.map((p) => [
      { text: `${p.a} vs ${p.b}` },
      { text: formatNumber(p.outputMaxAbs), numeric: true },
      { text: String(p.outputMaxUlp), numeric: true },
      { text: p.runningVarMaxAbs === null ? "—" : formatNumber(p.runningVarMaxAbs), numeric: true },
      { text: p.causes.join("; ") },
    ]),
  );
  const meta =
    `<p class="meta">` +
    `${escapeHtml(`${report.mode} · ${report.layout} · channel axis ${report.channelAxis}`)}` +
    `</p>`;
  return page(
    "bn-check matrix",
    [heading, toolLine(report), meta, await figure(chart), presets, pairs, filesTable(report.files)].join("\n"),
  );
}

function foldChart(report: FoldReport): Chart {
  return namedBarsChart(
    "fold-layers",
    "Folded layers by worst error/allowance",
    "worst error / allowance",
    report.cases.map((layer) => ({
      name: layer.name,
      value: layer.worstRatio === null || !Number.isFinite(layer.worstRatio) ? 1e6 : layer.worstRatio,
      standing: layer.status === "pass" ? ("within arithmetic bound" as const) : ("outside allowance" as const),
    })),
    1,
    "Each BatchNorm's fold: the largest |folded − float64 fold| over its allowance " +
      "(log scale; the dashed line is 1: above it the fold is wrong). Layers that " +
      "match exactly are not drawn; a layer not found or not folded is drawn at 1e6.",
  );
}

/** A failing layer's channels by how far the scale the fold applied (W'/W) is from γ/√(var + eps). */
function foldScaleChart(layer: FoldLayerReport): Chart | null {
  if (layer.scale === null) return null;
  const { expected, implied } = layer.scale;
  const values = expected.map((s, c) => ({
    name: `channel ${c}`,
    value: Math.abs(implied[c] / s - 1),
    standing: "outside allowance" as const,
  }));
  values.sort((a, b) => b.value - a.value);
  return namedBarsChart(
    `fold-scale-${layer.name}`,
    `${layer.name}: |W'/W ÷ γ/√(var + eps) − 1| per channel`,
    "relative difference of the applied scale",
    values.slice(0, 40),
    null,
    "The scale the fold applied to each output channel (least squares W'/W) " +
      "against the expected γ/√(var + eps); the 40 channels farthest off.",
  );
}

async function foldPage(report: FoldReport): Promise<string> {
  const heading = `<h1>bn-check fold: ${verdictBadge(report.conforms ? "conforms" : "does not conform", report.conforms ? VERDICT_CLASS.conforms : VERDICT_CLASS["does not conform"])}</h1>`;
  const s = report.summary;
  const meta = `<p class="meta">${escapeHtml(`${report.params} → ${report.foldedModel} · ${s.passed} / ${s.layers} folds conform · ${s.convsWithoutBatchNorm} conv/linear layers without BatchNorm (not judged)${s.batchNormsLeft > 0 ? ` · ${s.batchNormsLeft} BatchNorm(s) left in the folded model` : ""}`)}</p>`;
  const findings = report.findings
    .map((finding) => `<p><strong>Finding:</strong> ${escapeHtml(finding)}</p>`)
    .join("\n");
  const rows = report.cases.map((layer) => [
    { text: layer.name },
    {
      text: layer.status,
      className: layer.status === "pass" ? VERDICT_CLASS.conforms : VERDICT_CLASS["does not conform"],
    },
    { text: layer.conv === null ? "—" : `${layer.conv}${layer.op === null ? "" : ` (${layer.op})`}` },
    { text: layer.folded ?? "—" },
    { text: layer.pairedBy ?? "—" },
    { text: layer.dtype ?? "—" },
    { text: layer.worstRatio === null ? "—" : formatNumber(Number(layer.worstRatio.toPrecision(3))), numeric: true },
    { text: layer.cause ?? "" },
  ]);
  const layersTable = table(
    ["BatchNorm", "result", "folds into", "folded as", "paired by", "dtype", "worst err/allowance", "cause"],
    rows,
  );
  const scaleCharts = report.cases.map(foldScaleChart).filter((chart): chart is Chart => chart !== null);
  return page(
    "bn-check fold",
    [
      heading,
      toolLine(report),
      meta,
      findings,
      await figure(foldChart(report)),
      layersTable,
      await figures(scaleCharts),
    ].join("\n"),
  );
}

/** The HTML report of compare, diff, suite-shaped reports, detect, matrix and fold. */
export async function renderHtmlPage(report: Report): Promise<string> {
  if (isSuiteShaped(report)) return suitePage(report);
  if (report.command === "compare" || report.command === "diff") return comparePage(report);
  if (report.command === "detect") return detectPage(report);
  if (report.command === "matrix") return matrixPage(report);
  if (report.command === "fold") return foldPage(report);
  throw new Error(`no HTML report for ${report.command}`);
}

/** Every chart of a report (for --report-dir): per case, its charts, and the suite's own first. */
export function reportCharts(report: Report): { readonly section: string; readonly charts: readonly Chart[] }[] {
  if (isSuiteShaped(report)) {
    const chart = suiteChart(report.cases);
    const charted = casesWithCharts(report.cases);
    return [
      { section: report.command, charts: chart === null ? [] : [chart] },
      ...report.cases.filter((c) => charted.has(c)).map((c) => ({ section: c.name, charts: caseCharts(c) })),
    ];
  }
  if (report.command === "compare" || report.command === "diff")
    return casesOf(report).map((c) => ({ section: c.name, charts: caseCharts(c) }));
  if (report.command === "detect") return [{ section: "detect", charts: [detectChart(report)] }];
  if (report.command === "matrix") return [{ section: "matrix", charts: [matrixChart(report)] }];
  if (report.command === "fold") {
    return [
      { section: "fold", charts: [foldChart(report)] },
      ...report.cases.flatMap((layer) => {
        const chart = foldScaleChart(layer);
        return chart === null ? [] : [{ section: layer.name, charts: [chart] }];
      }),
    ];
  }
  return [];
}
