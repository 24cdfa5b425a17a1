/**
 * Markdown for a PR comment or `$GITHUB_STEP_SUMMARY`: a summary table, and the error histogram of
 * each failing tensor in a collapsed section.
 */
import type { TensorComparison } from "../../check/compare.js";
import { formatNumber, formatPercent } from "../../core/format.js";
import { markdownText } from "../markdown-text.js";
import { renderFoldMarkdown } from "./fold.js";
import { casesOf, type CaseReport, type DetectReport, type MatrixReport, type Report } from "../../app/reports.js";

const cell = markdownText;
const row = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
const STATUS = { pass: "✅ pass", fail: "❌ fail", error: "⚠️ error" } as const;
const VERDICT = {
  conforms: "✅ conforms",
  "conforms within arithmetic": "🟨 within arithmetic",
  "does not conform": "❌ fail",
} as const;

function tensorRow(t: TensorComparison): string[] {
  if (t.shapeMismatch)
    return [
      t.name,
      "❌ fail",
      `shape ${t.shape.join("x")} vs ref ${t.expectedShape.join("x")}`,
      "",
      "",
      "",
      "",
      "",
      "",
    ];
  return [
    t.name,
    VERDICT[t.verdict],
    `${t.mismatches} / ${t.count} (${formatPercent(t.mismatches, t.count)})`,
    `${t.flatMismatches}`,
    t.bound === null || t.flatMismatches === 0
      ? "—"
      : `${formatNumber(t.bound.maxRatio)}${t.bound.dominantTerm ? ` (${t.bound.dominantTerm})` : ""}`,
    formatNumber(t.maxAbsError?.absError ?? 0),
    formatNumber(t.maxRelError?.relError ?? 0),
    String(t.maxUlp?.ulps ?? 0),
    `atol ≥ ${formatNumber(t.requiredAtol)} or rtol ≥ ${formatNumber(t.requiredRtol)}`,
  ];
}

function histogram(t: TensorComparison): string[] {
  if (t.ulpHistogram.length === 0) return [];
  return [
    "",
    `<details><summary>${cell(t.name)}: error histogram (${t.ulpDtype} ulps)</summary>`,
    "",
    row(["ulps", "elements", "share"]),
    row(["---:", "---:", "---:"]),
    ...t.ulpHistogram.map((b) => row([b.ulps, String(b.count), formatPercent(b.count, t.count)])),
    "",
    "</details>",
  ];
}

function caseSection(c: CaseReport, heading: string): string[] {
  const lines = [heading, ""];
  if (c.convention !== null) {
    const conv = c.convention;
    lines.push(
      `${conv.framework} · ${conv.mode} · ${conv.layout} · eps ` +
        `${formatNumber(conv.epsilon)}` +
        `${conv.momentum === null ? " · momentum none" : ` · momentum ${conv.momentum}`}` +
        `${c.steps ? ` · ${c.steps.count} steps` : ""}`,
      "",
    );
  }
  if (c.status === "error") return [...lines, `⚠️ could not check: ${cell(c.error ?? "")}`, ""];
  lines.push(
    row([
      "tensor",
      "result",
      "beyond allowance",
      "outside flat tol",
      "max err/bound",
      "max abs err",
      "max rel err",
      "max ulp",
      "would pass with (flat)",
    ]),
    row(["---", "---", "---:", "---:", "---", "---:", "---:", "---:", "---"]),
  );
  lines.push(...c.tensors.map((t) => row(tensorRow(t))));
  for (const hint of c.hints) lines.push("", `> hint: ${cell(hint)}`);
  for (const t of c.tensors.filter((t) => !t.passed)) lines.push(...histogram(t));
  if (c.tensors.every((t) => t.passed) && c.tensors.length > 0) lines.push(...histogram(c.tensors[0]));
  lines.push("");
  return lines;
}

function renderMatrix(report: MatrixReport): string {
  const lines = [`### bn-check matrix (${report.mode}, ${report.layout}, channel axis ${report.channelAxis})`, ""];
  lines.push(row(["preset", "eps", "momentum", "running var"]), row(["---", "---:", "---", "---"]));
  for (const p of report.presets) lines.push(row([p.name, formatNumber(p.epsilon), p.momentum, p.runningVar]));
  lines.push(
    "",
    row(["pair", "output max abs", `max ulp (${report.ulpDtype})`, "running var max abs", "why"]),
    row(["---", "---:", "---:", "---:", "---"]),
  );
  for (const p of report.pairs) {
    lines.push(
      row([
        `${p.a} vs ${p.b}`,
        formatNumber(p.outputMaxAbs),
        String(p.outputMaxUlp),
        p.runningVarMaxAbs === null ? "—" : formatNumber(p.runningVarMaxAbs),
        p.causes.join("; "),
      ]),
    );
  }
  return `${lines.join("\n")}\n`;
}

function renderDetect(report: DetectReport): string {
  const gradients =
    report.gradients === null
      ? []
      : [`Gradients: ${report.gradients.description}.`, ...report.gradients.hints.map((hint) => `- ${hint}`), ""];
  const lines = [
    `### bn-check detect`,
    "",
    report.diagnosis,
    "",
    ...gradients,
    row(["candidate", "verdict", "max abs err", "max ulp", "mismatched"]),
    row(["---", "---", "---:", "---:", "---:"]),
  ];
  for (const c of report.candidates.slice(0, 10))
    lines.push(
      row([c.description, c.verdict, formatNumber(c.maxAbsError), String(c.maxUlp), `${c.mismatches} / ${c.count}`]),
    );
  return `${lines.join("\n")}\n`;
}

export function renderMarkdown(report: Report): string {
  if (report.command === "detect") return renderDetect(report);
  if (report.command === "matrix") return renderMatrix(report);
  if (report.command === "fold") return renderFoldMarkdown(report);
  if (report.command === "run") {
    return (
      `### bn-check run\n\n${row(["written", "dtype", "shape"])}\n${row(["---", "---", "---"])}` +
      `\n${report.written.map((f) => row([f.path, f.dtype, f.shape.join("x")])).join("\n")}\n`
    );
  }
  if ("cases" in report) {
    const s = report.summary;
    const lines = [
      `### bn-check ${report.command}: ${report.conforms ? "✅" : "❌"} ${s.passed} / ${s.total} passed`,
      "",
      `${s.failed} failed · ${s.errors} could not be checked · ${s.expectedMismatches} ` +
        `expected mismatches found${s.skipped > 0 ? ` · ${s.skipped} not run (interrupted)` : ""}`,
      "",
      ...(report.model?.findings ?? []).flatMap((finding) => [`**Finding:** ${cell(finding.message)}`, ""]),
      row(["case", "expected", "result", "verdict", "failing tensors", "max abs err"]),
      row(["---", "---", "---", "---", "---", "---:"]),
    ];
    for (const c of report.cases) {
      const failing = c.tensors.filter((t) => !t.passed);
      const worst = Math.max(0, ...c.tensors.map((t) => t.maxAbsError?.absError ?? 0));
      lines.push(
        row([
          c.name,
          c.expected,
          STATUS[c.status],
          c.verdict ?? "—",
          c.status === "error" ? (c.error ?? "") : failing.map((t) => t.name).join(", "),
          formatNumber(worst),
        ]),
      );
    }
    lines.push("");
    for (const c of report.cases.filter((c) => c.status !== "pass"))
      lines.push(...caseSection(c, `#### ${cell(c.name)}`));
    return `${lines.join("\n")}\n`;
  }
  const [only] = casesOf(report);
  const heading =
    report.verdict === "conforms within arithmetic"
      ? "🟨 conforms within arithmetic"
      : report.conforms
        ? "✅ conforms"
        : "❌ does not conform";
  return `${caseSection(only, `### bn-check ${report.command}: ${heading}`).join("\n")}\n`;
}
