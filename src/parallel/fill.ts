/**
 * Filling tensors from their files on every thread: the ranges are cut into units of FILL_UNIT_BYTES
 * that the calling thread and the workers claim as they do a pass's units (claim.ts), each copying
 * through its own buffer (core/file-copy.ts). File descriptors belong to the process, so a worker
 * reads the descriptor the calling thread opened. Copying is where a large read's page faults are
 * paid (file-copy.ts), and two threads pay them side by side: with the pool already running, a
 * one-shot run's read takes about what the slower of its files would alone.
 */
import { copyFromFile, type FileRange } from "../core/file-copy.js";
import { joinClaims, newUnitClaims, runClaimedChunks, type UnitClaims } from "./claim.js";
import { defaultThreadCount, poolFailed, poolIsWarm, shareClaims, validateThreadCount, workersFor } from "./pool.js";
import type { ExecutionOptions } from "./executor.js";
import type { FillTask, SharedFileRange, TaskResult } from "./task.js";

/** A claim's worth of a range: large enough that claiming costs nothing, small enough to share well. */
export const FILL_UNIT_BYTES = 1 << 20;
/** Below this many bytes in all, a fill is not shared (posting to the pool would cost more than it saves). */
export const FILL_POOL_MIN_BYTES = 1 << 23;

export interface FillResult {
  /** The index of a range whose file ended before the range did (it shrank while read), or -1. */
  readonly endedEarly: number;
  /** Units claimed by each thread: the calling thread first, then each worker. */
  readonly unitsByThread: readonly number[];
}

/** The first unit of each range, and the unit count after the last. */
function unitStarts(lengths: readonly number[]): number[] {
  const starts = [0];
  for (const length of lengths) starts.push(starts[starts.length - 1] + Math.ceil(length / FILL_UNIT_BYTES));
  return starts;
}

/**
 * Copies units `first`..`end` of `ranges` into their targets; returns the index of the first range
 * whose file ended early, or -1.
 */
export function fillUnits(
  ranges: readonly SharedFileRange[],
  starts: readonly number[],
  first: number,
  end: number,
): number {
  let endedEarly = -1;
  let range = 0;
  for (let unit = first; unit < end; unit++) {
    while (starts[range + 1] <= unit) range++;
    const { fd, position, buffer, byteOffset, length } = ranges[range];
    const offset = (unit - starts[range]) * FILL_UNIT_BYTES;
    const bytes = Math.min(FILL_UNIT_BYTES, length - offset);
    const copied = copyFromFile(fd, new Uint8Array(buffer, byteOffset + offset, bytes), position + offset);
    if (copied < bytes && endedEarly < 0) endedEarly = range;
  }
  return endedEarly;
}

/** What a worker does with a fill task: joins it, then claims and copies units until none is left. */
export function runFillTask(task: FillTask): TaskResult {
  joinClaims(task.claims);
  let endedEarly = -1;
  const units = runClaimedChunks(task.claims, (first, end) => {
    const ended = fillUnits(task.ranges, task.starts, first, end);
    if (endedEarly < 0) endedEarly = ended;
  });
  return { kernel: "js", units, endedEarly };
}

/**
 * Fills `ranges` (targets in shared memory) on the calling thread and the running pool, or returns
 * null when the pool is not running for these options (too few threads, a failed worker, too little
 * data): the caller then reads as it would alone. The pool is never started here: a one-shot command
 * starts it before reading when its data is large enough to pay (executor.ts, `prewarmFor`).
 */
export function fillOnPool(ranges: readonly FileRange[], options: ExecutionOptions): Promise<FillResult> | null {
  const threads = validateThreadCount(options.threads ?? defaultThreadCount());
  const bytes = ranges.reduce((sum, range) => sum + range.target.length, 0);
  if (threads < 2 || bytes < FILL_POOL_MIN_BYTES || poolFailed() || !poolIsWarm(workersFor(threads))) return null;
  if (!ranges.every((range) => range.target.buffer instanceof SharedArrayBuffer)) return null;
  const shared: SharedFileRange[] = ranges.map(({ fd, position, target }) => ({
    fd,
    position,
    buffer: target.buffer as SharedArrayBuffer,
    byteOffset: target.byteOffset,
    length: target.length,
  }));
  const starts = unitStarts(shared.map((range) => range.length));
  const claims: UnitClaims = newUnitClaims(starts[starts.length - 1], threads, 8);
  return runFill(shared, starts, claims, workersFor(threads), options);
}

async function runFill(
  ranges: readonly SharedFileRange[],
  starts: readonly number[],
  claims: UnitClaims,
  workers: number,
  options: ExecutionOptions,
): Promise<FillResult> {
  const task: FillTask = { op: "fill", claims, ranges, starts };
  let endedEarly = -1;
  const { mine, results } = await shareClaims(task, claims, workers, options, (first, end) => {
    const ended = fillUnits(ranges, starts, first, end);
    if (endedEarly < 0) endedEarly = ended;
  });
  // As in a pass: workers that had not joined when the last unit was claimed did nothing.
  if (results === null) return { endedEarly, unitsByThread: [mine, ...Array.from({ length: workers }, () => 0)] };
  for (const result of results) if (endedEarly < 0) endedEarly = result.endedEarly ?? -1;
  return { endedEarly, unitsByThread: [mine, ...results.map((result) => result.units)] };
}
