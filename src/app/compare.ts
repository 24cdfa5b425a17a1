/**
 * `bn-check compare` and `bn-check diff`: one case, checked and returned as a report (the caller
 * renders it and sets the exit code).
 */
import type { CheckCase } from "./cases/case.js";
import { runCase } from "./run-case.js";
import type { ExecutionOptions } from "../parallel/executor.js";
import { findingsOf, type CaseReport, type CompareReport } from "./reports.js";
import { reportHead } from "./version.js";
import { exitCodeOf } from "./exit-code.js";

/** Wraps a case report as the report of a single-case command. */
export function singleCaseReport(command: "compare" | "diff", report: CaseReport): CompareReport {
  const conforms = report.conforms === true;
  return {
    ...reportHead(command),
    conforms,
    verdict: report.verdict ?? (conforms ? "conforms" : "does not conform"),
    exitCode: exitCodeOf({ command, conforms }),
    ...findingsOf(report),
  };
}

export async function runCompare(check: CheckCase, execution: ExecutionOptions): Promise<CompareReport> {
  return singleCaseReport(check.kind, await runCase(check, execution));
}
