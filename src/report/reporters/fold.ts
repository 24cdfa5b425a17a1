/**
 * The `fold` report in each text format: a table per layer (BatchNorm, the layer it folds into,
 * the folded name, how the pair was found, worst error/allowance, cause), the model's findings and
 * the totals. Names are text: escaped for the terminal, Markdown, XML and workflow commands alike.
 */
import type { ChalkInstance } from "chalk";
import { escapeControlCharacters, formatNumber } from "../../core/format.js";
import type { FoldLayerReport, FoldReport } from "../../app/reports.js";
import { markdownText } from "../markdown-text.js";
import { escapeXml } from "../xml.js";

function ratio(layer: FoldLayerReport): string {
  return layer.worstRatio === null ? "—" : formatNumber(Number(layer.worstRatio.toPrecision(3)));
}

/** The cells of a layer's row, plain text. */
function rowCells(layer: FoldLayerReport): string[] {
  return [
    layer.name,
    layer.status,
    layer.conv === null ? "—" : `${layer.conv}${layer.op === null ? "" : ` (${layer.op})`}`,
    layer.folded ?? "—",
    layer.pairedBy ?? "—",
    layer.dtype ?? "—",
    ratio(layer),
    layer.cause ?? "",
  ];
}

const HEAD = ["BatchNorm", "result", "folds into", "folded as", "paired by", "dtype", "worst err/allowance", "cause"];

function summaryLine(report: FoldReport): string {
  const s = report.summary;
  const extra = [
    s.notFoldable > 0 ? `${s.notFoldable} BatchNorm(s) with no layer to fold into` : "",
    `${s.convsWithoutBatchNorm} conv/linear layer(s) without BatchNorm (not judged)`,
    s.batchNormsLeft > 0 ? `${s.batchNormsLeft} BatchNorm(s) left in the folded model` : "",
  ].filter((part) => part !== "");
  return `${s.passed} / ${s.layers} folds conform, ${s.failed} fail; ${extra.join("; ")}`;
}

export function renderFoldText(
  report: FoldReport,
  paint: ChalkInstance,
  table: (head: string[], rows: string[][], color: boolean) => string,
  color: boolean,
): string {
  const text = (value: string) => escapeControlCharacters(value);
  const lines = [paint.bold(`bn-check fold: ${text(report.params)} → ${text(report.foldedModel)}`)];
  const rows = report.cases.map((layer) => {
    const cells = rowCells(layer).map(text);
    cells[1] = layer.status === "pass" ? paint.green("pass") : paint.red("FAIL");
    return cells;
  });
  lines.push(table(HEAD, rows, color));
  for (const finding of report.findings) lines.push(paint.yellow(`finding: ${text(finding)}`));
  if (report.notFoldable.length > 0) lines.push(`no layer to fold into: ${report.notFoldable.map(text).join(", ")}`);
  const summary = summaryLine(report);
  lines.push(report.conforms ? paint.green.bold(summary) : paint.red.bold(summary));
  return `${lines.join("\n")}\n`;
}

export function renderFoldMarkdown(report: FoldReport): string {
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const lines = [
    `### bn-check fold: ${report.conforms ? "✅" : "❌"} ` +
      `${report.summary.passed} / ${report.summary.layers} folds conform`,
    "",
    markdownText(summaryLine(report)),
    "",
    ...report.findings.flatMap((finding) => [`**Finding:** ${markdownText(finding)}`, ""]),
    row(HEAD),
    row(HEAD.map((_, k) => (k === 6 ? "---:" : "---"))),
    ...report.cases.map((layer) => {
      const cells = rowCells(layer).map(markdownText);
      cells[1] = layer.status === "pass" ? "✅ pass" : "❌ fail";
      return row(cells);
    }),
    "",
  ];
  return `${lines.join("\n")}\n`;
}

const workflowMessage = (text: string) =>
  escapeControlCharacters(text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A"));
const workflowProperty = (text: string) => workflowMessage(text).replace(/:/g, "%3A").replace(/,/g, "%2C");

export function renderFoldGithub(report: FoldReport): string {
  const lines = report.cases
    .filter((layer) => layer.status === "fail")
    .map(
      (layer) =>
        `::error title=${workflowProperty(`bn-check fold ${layer.name}`)}::` +
        `${workflowMessage(layer.cause ?? "the fold does not conform")}`,
    );
  for (const finding of report.findings) lines.push(`::notice title=bn-check fold::${workflowMessage(finding)}`);
  lines.push(`::notice title=bn-check fold::${workflowMessage(summaryLine(report))}`);
  return `${lines.join("\n")}\n`;
}

export function renderFoldJunit(report: FoldReport): string {
  const seconds = (report.timings.checkMs / 1000 / Math.max(1, report.cases.length)).toFixed(3);
  const cases = report.cases.map((layer) => {
    const failure =
      layer.status === "fail" ? `<failure message="${escapeXml(layer.cause ?? "the fold does not conform")}"/>` : "";
    const out = `<system-out>${escapeXml(`folds into ${layer.conv ?? "—"} as ${layer.folded ?? "—"} (paired by ${layer.pairedBy ?? "—"}); worst error/allowance ${ratio(layer)}`)}</system-out>`;
    return (
      `    <testcase name="${escapeXml(layer.name)}" classname="fold" ` +
      `time="${seconds}">${failure}${out}</testcase>`
    );
  });
  const failures = report.summary.failed;
  const total = (report.timings.totalMs / 1000).toFixed(3);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="bn-check fold" tests="${report.cases.length}" ` +
      `failures="${failures}" errors="0" time="${total}">`,
    `  <testsuite name="${escapeXml(report.params)}" tests="${report.cases.length}" ` +
      `failures="${failures}" errors="0" skipped="0" time="${total}">`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
