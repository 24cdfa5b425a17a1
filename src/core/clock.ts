/**
 * Milliseconds from an arbitrary origin, for the reports' timings. `performance.now()` would do, but
 * its first use loads node:perf_hooks, 1-1.5 ms of a small command's start; process.hrtime is always
 * loaded.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
