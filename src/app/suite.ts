/**
 * `bn-check suite`: many cases, one after another through the same worker pool. A case that cannot
 * be checked is recorded with its error and the suite goes on.
 */
import type { CheckCase } from "./cases/case.js";
import { describeError } from "./cases/fields.js";
import { globMatcher } from "./cases/glob.js";
import { loadSuite } from "./cases/manifest.js";
import { runCase } from "./run-case.js";
import { BnCheckError } from "../core/errors.js";
import type { ExecutionOptions } from "../parallel/executor.js";
import type { CaseReport, SuiteReport } from "./reports.js";
import { reportHead } from "./version.js";
import { exitCodeOf } from "./exit-code.js";
import { nowMs } from "../core/clock.js";

export interface SuiteOptions {
  readonly source: string;
  readonly shard?: { readonly index: number; readonly count: number };
  readonly filter?: string;
  /** Judge every case by its flat tolerance alone. */
  readonly strict?: boolean;
  /** Ignore the cases' own tolerances (atol/rtol): bn-check's defaults judge (NaN matching stays). */
  readonly defaultTolerances?: boolean;
  readonly execution: ExecutionOptions;
  /** Called after each case (progress bar). */
  readonly onProgress?: (done: number, total: number, name: string) => void;
  /** Stops between cases (SIGINT). */
  readonly signal?: AbortSignal;
}

/** Case i of the filtered list belongs to shard (i mod n) + 1: shards are disjoint and cover the suite. */
export function selectCases(
  cases: readonly CheckCase[],
  filter: string | undefined,
  shard: { index: number; count: number } | undefined,
): CheckCase[] {
  const matches = filter === undefined ? () => true : globMatcher(filter);
  const filtered = cases.filter((c) => matches(c.name));
  return shard === undefined ? filtered : filtered.filter((_, i) => i % shard.count === shard.index - 1);
}

/** A case as the suite's options have it judged. */
function adjusted(check: CheckCase, options: SuiteOptions): CheckCase {
  let result = check;
  if (options.strict) result = { ...result, strict: true };
  if (options.defaultTolerances)
    result = { ...result, tolerance: { equalNan: check.tolerance?.equalNan }, tolerances: undefined };
  return result;
}

function errorReport(check: CheckCase, error: unknown): CaseReport {
  return {
    name: check.name,
    kind: check.kind,
    expected: check.expected,
    status: "error",
    conforms: null,
    verdict: null,
    error: describeError(error),
    files: [],
    convention: null,
    tensors: [],
    batchStatistics: null,
    steps: null,
    hints: [],
    timings: { readMs: 0, statsMs: 0, compareMs: 0, totalMs: 0, threads: 0 },
  };
}

/** How cases run: one after another through one pool, a bad case recorded as an error. */
export interface CaseRunOptions {
  readonly execution: ExecutionOptions;
  readonly onProgress?: (done: number, total: number, name: string) => void;
  readonly signal?: AbortSignal;
}

/** The outcome of running cases, as suite-shaped reports state it. */
export interface CaseRunResult {
  readonly conforms: boolean;
  readonly exitCode: SuiteReport["exitCode"];
  readonly summary: SuiteReport["summary"];
  readonly cases: readonly CaseReport[];
  readonly timings: SuiteReport["timings"];
}

/** Runs cases one after another (suite, model); stops between cases when the signal aborts. */
export async function runCases(selected: readonly CheckCase[], options: CaseRunOptions): Promise<CaseRunResult> {
  const started = nowMs();
  const cases: CaseReport[] = [];
  let threads = 1;
  for (const check of selected) {
    // Let a pending SIGINT through: a case may be synchronous from start to end (diff).
    await new Promise((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) break;
    try {
      const report = await runCase(check, options.execution);
      threads = Math.max(threads, report.timings.threads);
      cases.push(report);
    } catch (error) {
      // Interrupted mid-case: that case is not reported, the ones done are.
      if (options.signal?.aborted || options.execution.signal?.aborted) break;
      // A bad file fails its case, not the suite; anything else (a bug) still ends the run.
      if (!(error instanceof BnCheckError)) throw error;
      cases.push(errorReport(check, error));
    }
    options.onProgress?.(cases.length, selected.length, check.name);
  }
  const count = (status: CaseReport["status"]) => cases.filter((c) => c.status === status).length;
  const errors = count("error");
  const failed = count("fail");
  return {
    conforms: errors === 0 && failed === 0 && cases.length === selected.length,
    exitCode: exitCodeOf({ command: "suite", summary: { failed, errors } }),
    summary: {
      total: selected.length,
      passed: count("pass"),
      failed,
      errors,
      expectedMismatches: cases.filter((c) => c.status === "pass" && c.expected === "mismatch").length,
      skipped: selected.length - cases.length,
    },
    cases,
    timings: { totalMs: nowMs() - started, threads },
  };
}

export async function runSuite(options: SuiteOptions): Promise<SuiteReport> {
  const started = nowMs();
  const selected = selectCases(loadSuite(options.source), options.filter, options.shard).map((check) =>
    adjusted(check, options),
  );
  const result = await runCases(selected, options);
  return {
    ...reportHead("suite"),
    conforms: result.conforms,
    exitCode: result.exitCode,
    source: options.source,
    shard: options.shard ?? null,
    filter: options.filter ?? null,
    summary: result.summary,
    cases: result.cases,
    timings: { ...result.timings, totalMs: nowMs() - started },
  };
}
