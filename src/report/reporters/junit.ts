/**
 * JUnit XML for CI (GitHub Actions, GitLab, Jenkins): one <testsuite> per case, one <testcase> per
 * checked tensor. A failure message gives the statistic, its value and the tolerance. A case whose
 * expected outcome is a mismatch passes when a mismatch is found, and says so.
 */
import {
  arithmeticSummary,
  casesOf,
  failureSummary,
  type CaseReport,
  type CompareReport,
  type FoldReport,
  type SuiteReport,
} from "../../app/reports.js";
import { renderFoldJunit } from "./fold.js";
import { escapeXml } from "../xml.js";

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** One <testcase>, as data: the counts in the XML come from these, not from the XML text. */
interface TestCase {
  readonly name: string;
  readonly classname: string;
  readonly time: string;
  readonly failure: string | null;
  readonly error: string | null;
  readonly output: string | null;
}

function testCasesOf(report: CaseReport): TestCase[] {
  const suite = report.name;
  if (report.status === "error")
    return [
      {
        name: suite,
        classname: suite,
        time: "0.000",
        failure: null,
        error: report.error ?? "could not check",
        output: null,
      },
    ];
  if (report.expected === "mismatch") {
    const found = report.tensors.filter((t) => !t.passed);
    const passed = report.status === "pass";
    return [
      {
        name: "expected mismatch",
        classname: suite,
        time: seconds(report.timings.totalMs),
        failure: passed ? null : "expected a mismatch, but every tensor is within tolerance",
        error: null,
        output: passed ? `expected a mismatch and found one: ${found.map(failureSummary).join("; ")}` : null,
      },
    ];
  }
  return report.tensors.map((tensor) => ({
    name: tensor.name,
    classname: suite,
    time: seconds(report.timings.totalMs / Math.max(1, report.tensors.length)),
    failure: tensor.passed ? null : failureSummary(tensor),
    error: null,
    // A tensor that conforms only within its arithmetic passes, and says so in its output.
    output: tensor.verdict === "conforms within arithmetic" ? arithmeticSummary(tensor) : null,
  }));
}

function renderTestCase(test: TestCase): string {
  const body = [
    test.failure === null ? "" : `<failure message="${escapeXml(test.failure)}"/>`,
    test.error === null ? "" : `<error message="${escapeXml(test.error)}"/>`,
    test.output === null ? "" : `<system-out>${escapeXml(test.output)}</system-out>`,
  ].join("");
  return (
    `    <testcase name="${escapeXml(test.name)}" ` +
    `classname="${escapeXml(test.classname)}" time="${test.time}">${body}</testcase>`
  );
}

interface Totals {
  tests: number;
  failures: number;
  errors: number;
}

function count(tests: readonly TestCase[]): Totals {
  return {
    tests: tests.length,
    failures: tests.filter((t) => t.failure !== null).length,
    errors: tests.filter((t) => t.error !== null).length,
  };
}

export function renderJunit(report: CompareReport | SuiteReport | FoldReport): string {
  if (report.command === "fold") return renderFoldJunit(report);
  const cases = casesOf(report);
  const suites = cases.map((c) => ({ report: c, tests: testCasesOf(c) }));
  const totals = suites.reduce<Totals>(
    (sum, s) => {
      const t = count(s.tests);
      return { tests: sum.tests + t.tests, failures: sum.failures + t.failures, errors: sum.errors + t.errors };
    },
    { tests: 0, failures: 0, errors: 0 },
  );
  const body = suites.map(({ report: c, tests }) => {
    const t = count(tests);
    return [
      `  <testsuite name="${escapeXml(c.name)}" tests="${t.tests}" failures="${t.failures}" ` +
        `errors="${t.errors}" skipped="0" time="${seconds(c.timings.totalMs)}">`,
      ...tests.map(renderTestCase),
      "  </testsuite>",
    ].join("\n");
  });
  const total = cases.reduce((ms, c) => ms + c.timings.totalMs, 0);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bn-check ${report.command}" ` +
    `tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" ` +
    `time="${seconds(total)}">\n${body.join("\n")}\n</testsuites>\n`
  );
}
