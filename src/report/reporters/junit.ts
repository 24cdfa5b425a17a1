/**
 * JUnit XML for CI (GitHub Actions, GitLab, Jenkins): one <testsuite> per case, one <testcase> per
 * checked tensor. A failure message gives the statistic, its value and the tolerance. A case whose
 * expected outcome is a mismatch passes when a mismatch is found, and says so.
 */
import { UsageError } from "../../errors.js";
import { arithmeticSummary, casesOf, failureSummary, type CaseReport, type Report } from "../report.js";
import { escapeXml } from "../xml.js";

const seconds = (ms: number) => (ms / 1000).toFixed(3);

function renderCase(report: CaseReport): string {
  const suite = escapeXml(report.name);
  const lines: string[] = [];
  const testcases: string[] = [];
  if (report.status === "error") {
    testcases.push(`    <testcase name="${suite}" classname="${suite}" time="0"><error message="${escapeXml(report.error ?? "could not check")}"/></testcase>`);
  } else if (report.expected === "mismatch") {
    const found = report.tensors.filter((t) => !t.passed);
    const body =
      report.status === "pass"
        ? `<system-out>${escapeXml(`expected a mismatch and found one: ${found.map(failureSummary).join("; ")}`)}</system-out>`
        : `<failure message="${escapeXml("expected a mismatch, but every tensor is within tolerance")}"/>`;
    testcases.push(`    <testcase name="expected mismatch" classname="${suite}" time="${seconds(report.timings.totalMs)}">${body}</testcase>`);
  } else {
    for (const tensor of report.tensors) {
      // A tensor that conforms only within its arithmetic passes, and says so in its output.
      const body = !tensor.passed ? `<failure message="${escapeXml(failureSummary(tensor))}"/>` : tensor.verdict === "conforms within arithmetic" ? `<system-out>${escapeXml(arithmeticSummary(tensor))}</system-out>` : "";
      testcases.push(`    <testcase name="${escapeXml(tensor.name)}" classname="${suite}" time="${seconds(report.timings.totalMs / Math.max(1, report.tensors.length))}">${body}</testcase>`);
    }
  }
  const failures = testcases.filter((t) => t.includes("<failure")).length;
  const errors = testcases.filter((t) => t.includes("<error")).length;
  lines.push(`  <testsuite name="${suite}" tests="${testcases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${seconds(report.timings.totalMs)}">`);
  lines.push(...testcases);
  lines.push("  </testsuite>");
  return lines.join("\n");
}

export function renderJunit(report: Report): string {
  if (report.command !== "compare" && report.command !== "diff" && report.command !== "suite") {
    throw new UsageError(`--format junit applies to compare, diff and suite, not ${report.command}`);
  }
  const cases = casesOf(report);
  const suites = cases.map(renderCase);
  const tests = suites.reduce((n, s) => n + (s.match(/<testcase /g)?.length ?? 0), 0);
  const failures = suites.reduce((n, s) => n + (s.match(/<failure /g)?.length ?? 0), 0);
  const errors = suites.reduce((n, s) => n + (s.match(/<error /g)?.length ?? 0), 0);
  const total = cases.reduce((ms, c) => ms + c.timings.totalMs, 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bn-check ${report.command}" tests="${tests}" failures="${failures}" errors="${errors}" time="${seconds(total)}">\n${suites.join("\n")}\n</testsuites>\n`;
}
