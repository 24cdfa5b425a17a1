/**
 * The report's tables as HTML: the tensors of a case, a tensor's channels and worst elements, the
 * files and convention. Every cell's text is escaped here (names come from files and directories).
 */
import type { ElementReport, TensorComparison, Verdict } from "../../check/compare.js";
import { formatIndex, formatNumber, formatPercent } from "../../core/format.js";
import type { CaseReport, FileInfo } from "../../app/reports.js";
import { escapeHtml } from "./escape.js";

export interface Cell {
  readonly text: string;
  /** A number: right-aligned, monospaced. */
  readonly numeric?: boolean;
  readonly className?: string;
}

const text = (value: string, className?: string): Cell => ({ text: value, className });
const num = (value: number | string): Cell => ({
  text: typeof value === "number" ? formatNumber(value) : value,
  numeric: true,
});

/** A table with a header row, optionally captioned; cells are escaped. */
export function table(header: readonly string[], rows: readonly (readonly Cell[])[], caption?: string): string {
  const head = `<thead><tr>${header.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join("")}</tr></thead>`;
  const body = rows
    .map(
      (row) =>
        `<tr>${row.map((c) => `<td${c.numeric ? ' class="num"' : c.className ? ` class="${c.className}"` : ""}>` + `${escapeHtml(c.text)}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return (
    `<div class="scroll"><table>${caption === undefined ? "" : `<caption>${escapeHtml(caption)}</caption>`}` +
    `${head}<tbody>\n${body}\n</tbody></table></div>`
  );
}

export const VERDICT_CLASS: Readonly<Record<Verdict, string>> = {
  conforms: "v-conforms",
  "conforms within arithmetic": "v-arith",
  "does not conform": "v-fail",
};

export function verdictCell(verdict: Verdict | null): Cell {
  return verdict === null ? text("—") : text(verdict, VERDICT_CLASS[verdict]);
}

export function filesTable(files: readonly FileInfo[]): string {
  if (files.length === 0) return "";
  return table(
    ["role", "file", "dtype", "shape"],
    files.map((f) => [text(f.role), text(f.path), text(f.dtype), text(f.shape.join("×"))]),
  );
}

/**
 * One row per checked tensor: verdict, how many elements are beyond the allowance
 * and the flat tolerance, the largest errors; then where the tolerances came from.
 */
export function tensorsTable(tensors: readonly TensorComparison[]): string {
  const sources = [...new Set(tensors.map((t) => t.tolerance.source))];
  const note = sources.length === 0 ? "" : `<p class="note">tolerance: ${escapeHtml(sources.join("; "))}</p>`;
  return `${table(
    [
      "tensor",
      "verdict",
      "beyond allowance",
      "outside flat tol",
      "max err/bound",
      "max abs err",
      "max rel err",
      "max ulp",
      "tolerance",
      "would pass with (flat)",
    ],
    tensors.map((t) =>
      t.shapeMismatch
        ? [
            text(t.name),
            verdictCell(t.verdict),
            text(`shape ${t.shape.join("×")} vs reference ${t.expectedShape.join("×")}`),
            text(""),
            text(""),
            text(""),
            text(""),
            text(""),
            text(""),
            text(""),
          ]
        : [
            text(t.name),
            verdictCell(t.verdict),
            num(`${t.mismatches} / ${t.count} (${formatPercent(t.mismatches, t.count)})`),
            num(String(t.flatMismatches)),
            t.bound === null ? text("—") : num(t.bound.maxRatio),
            num(t.maxAbsError?.absError ?? 0),
            num(t.maxRelError?.relError ?? 0),
            num(String(t.maxUlp?.ulps ?? 0)),
            text(`atol ${formatNumber(t.tolerance.atol)}, rtol ${formatNumber(t.tolerance.rtol)}`),
            text(`atol ≥ ${formatNumber(t.requiredAtol)} or rtol ≥ ${formatNumber(t.requiredRtol)}`),
          ],
    ),
  )}${note}`;
}

/** The per-channel table of a tensor, at most `limit` rows (the worst first when cut, and saying so). */
export function channelsTable(tensor: TensorComparison, limit: number): string {
  if (tensor.channels.length === 0) return "";
  let channels = tensor.channels;
  let note =
    tensor.channelsOmitted > 0
      ? `${tensor.channelsOmitted} more channel(s) outside the flat tolerance are not in the report.`
      : "";
  if (channels.length > limit) {
    channels = [...channels]
      .sort((a, b) => b.mismatches - a.mismatches || b.boundRatio - a.boundRatio || b.maxAbsError - a.maxAbsError)
      .slice(0, limit);
    note = `The ${limit} worst of ${tensor.channels.length} listed channels. ${note}`;
  }
  const rows = channels.map((c) => [
    num(String(c.channel)),
    c.mismatches > 0
      ? text("does not conform", "v-fail")
      : c.flatMismatches > 0
        ? text("within arithmetic", "v-arith")
        : text("conforms", "v-conforms"),
    num(`${c.mismatches} / ${c.count}`),
    num(String(c.flatMismatches)),
    c.conditioning === null ? text("—") : num(c.conditioning),
    c.flatMismatches > 0 ? num(c.boundRatio) : text("—"),
    num(c.maxAbsError),
    num(c.maxRelError),
    num(String(c.maxUlp)),
    text(c.dominantTerm ?? ""),
  ]);
  const header = [
    "channel",
    "verdict",
    "beyond allowance",
    "outside flat tol",
    "|μ|/σ",
    "max err/bound",
    "max abs err",
    "max rel err",
    "max ulp",
    "largest bound term",
  ];
  return (
    `<h4>${escapeHtml(tensor.name)}: per channel</h4>` +
    `${note === "" ? "" : `<p class="note">${escapeHtml(note)}</p>`}${table(header, rows)}`
  );
}

function elementRow(e: ElementReport): Cell[] {
  return [
    text(formatIndex(e.index)),
    num(e.actual),
    num(e.expected),
    num(e.absError),
    num(e.relError),
    num(e.allowed),
    e.bound === null ? text("—") : num(e.bound),
  ];
}

/** The worst elements of a tensor (largest excess over the allowance first). */
export function worstTable(tensor: TensorComparison): string {
  if (tensor.worst.length === 0) return "";
  const header = ["index", "bn-check", "reference", "abs err", "rel err", "flat tolerance", "bound"];
  return `<h4>${escapeHtml(tensor.name)}: worst elements</h4>${table(header, tensor.worst.map(elementRow))}`;
}

/** The suite's case list: one row per case, with its worst |error|/allowance. */
export function casesTable(cases: readonly CaseReport[], ratioOf: (entry: CaseReport) => number | null): string {
  return table(
    ["case", "expected", "status", "verdict", "failing tensors", "worst err/allowance"],
    cases.map((c) => {
      const ratio = ratioOf(c);
      return [
        text(c.name),
        text(c.expected),
        text(c.status, `s-${c.status}`),
        verdictCell(c.verdict),
        text(
          c.status === "error"
            ? (c.error ?? "")
            : c.tensors
                .filter((t) => !t.passed)
                .map((t) => t.name)
                .join(", "),
        ),
        ratio === null ? text("—") : num(ratio),
      ];
    }),
  );
}
