/**
 * The exit code of a report, decided here only: 0 conforms (or, for suite, every case had its
 * expected outcome), 1 checked and does not conform (a case failed), 2 could not check (a case
 * could not be checked). Commands that check nothing (run, matrix, detect) end with 0.
 */
import { EXIT_CANNOT_CHECK, EXIT_CONFORMS, EXIT_MISMATCH } from "../core/errors.js";

export type ExitCode = typeof EXIT_CONFORMS | typeof EXIT_MISMATCH | typeof EXIT_CANNOT_CHECK;

/** What a report's exit code depends on. */
export type ExitBasis =
  | { readonly command: "compare" | "diff"; readonly conforms: boolean }
  | { readonly command: "suite" | "model"; readonly summary: { readonly failed: number; readonly errors: number } }
  | { readonly command: "fold"; readonly conforms: boolean }
  | { readonly command: "run" | "matrix" | "detect" };

export function exitCodeOf(report: ExitBasis): ExitCode {
  switch (report.command) {
    case "compare":
    case "diff":
    case "fold":
      return report.conforms ? EXIT_CONFORMS : EXIT_MISMATCH;
    case "suite":
    case "model":
      return report.summary.errors > 0 ? EXIT_CANNOT_CHECK : report.summary.failed > 0 ? EXIT_MISMATCH : EXIT_CONFORMS;
    default:
      return EXIT_CONFORMS;
  }
}
