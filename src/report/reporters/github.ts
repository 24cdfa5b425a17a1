/**
 * GitHub Actions workflow commands: one `::error` per failing case (or tensor), one `::notice` with
 * the totals. Reference: docs.github.com "Workflow commands for GitHub Actions" (escaping of
 * %, CR and LF in messages; of : and , in properties).
 */
import { escapeControlCharacters } from "../../core/format.js";
import { renderFoldGithub } from "./fold.js";
import { arithmeticSummary, casesOf, failureSummary, type Report } from "../../app/reports.js";

const message = (text: string) =>
  escapeControlCharacters(text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A"));
const property = (text: string) => message(text).replace(/:/g, "%3A").replace(/,/g, "%2C");

export function renderGithub(report: Report): string {
  if (report.command === "fold") return renderFoldGithub(report);
  if (report.command === "detect") return `::notice title=bn-check detect::${message(report.diagnosis)}\n`;
  if (report.command === "matrix" || report.command === "run") {
    return (
      `::notice title=${property(`bn-check ${report.command}`)}::` +
      `${message(`${report.command} done in ${report.timings.totalMs.toFixed(0)} ms`)}\n`
    );
  }
  const lines: string[] = [];
  const cases = casesOf(report);
  for (const c of cases) {
    const title = property(`bn-check ${c.name}`);
    if (c.status === "error") lines.push(`::error title=${title}::${message(`could not check: ${c.error}`)}`);
    else if (c.status === "fail" && c.expected === "mismatch")
      lines.push(`::error title=${title}::${message("expected a mismatch, but every tensor is within tolerance")}`);
    else if (c.status === "fail")
      for (const t of c.tensors.filter((t) => !t.passed))
        lines.push(`::error title=${title}::${message(failureSummary(t))}`);
    for (const hint of c.hints) lines.push(`::notice title=${title}::${message(`hint: ${hint}`)}`);
    if (c.status !== "error" && c.expected === "match")
      for (const t of c.tensors.filter((t) => t.verdict === "conforms within arithmetic"))
        lines.push(`::notice title=${title}::${message(arithmeticSummary(t))}`);
  }
  const passed = cases.filter((c) => c.status === "pass").length;
  lines.push(`::notice title=bn-check ${report.command}::${message(`${passed} of ${cases.length} case(s) passed`)}`);
  return `${lines.join("\n")}\n`;
}
