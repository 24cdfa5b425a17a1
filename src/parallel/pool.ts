/**
 * The process-wide worker pool. Piscina does the pooling (worker reuse, a task queue, rejecting the
 * tasks of a worker that throws or exits, no respawn loop for workers that fail at start-up); this
 * module sizes it, names failures and shuts it down. The pool is kept for the life of the process so
 * that a `suite` or a library caller pays worker start-up once; idle workers are unref'd by Piscina
 * and do not keep the process alive.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { availableParallelism } from "node:os";
import type { Piscina } from "piscina";
import { InterruptedError, UsageError, WorkerFailureError } from "../errors.js";
import type { KernelTask, TaskResult } from "./task.js";

let pool: Piscina<KernelTask, TaskResult> | null = null;
let poolThreads = 0;

/** The default thread count: one per core the OS makes available. */
export function defaultThreadCount(): number {
  return availableParallelism();
}

/** More threads than this many per core only add memory (each worker holds its own engine) and contention. */
const THREADS_PER_CORE = 8;

export function validateThreadCount(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`threads must be an integer >= 1; got ${threads}`);
  const most = THREADS_PER_CORE * availableParallelism();
  if (threads > most) throw new UsageError(`threads must be at most ${most} (${THREADS_PER_CORE} per core, ${availableParallelism()} cores); got ${threads}`);
  return threads;
}

/**
 * The file each worker runs: the bundled worker, or the one BN_CHECK_WORKER_FILE names (a path or a
 * file URL). The override is how the test suite runs fixture workers that throw, exit, stall or
 * compute differently through the production pool and executor; nothing else reads it.
 */
function workerFile(): string {
  const override = process.env.BN_CHECK_WORKER_FILE;
  if (override !== undefined && override !== "") return override.startsWith("file:") ? override : pathToFileURL(override).href;
  // The worker bundled into one CommonJS file (scripts/bundle-cli.mjs; worker-entry.cts says why
  // CommonJS). Resolved from dist/parallel/ (this module) and from dist/cli/ (the bundled CLI) alike.
  return new URL("../parallel/worker.cjs", import.meta.url).href;
}

function getPool(workers: number): Piscina<KernelTask, TaskResult> {
  if (pool !== null && poolThreads === workers) return pool;
  if (pool !== null) void pool.destroy();
  // Loaded on first use (work small enough for the calling thread never pays for it), and
  // synchronously: a pool started before a command reads its files boots while they are read.
  const { Piscina } = createRequire(import.meta.url)("piscina") as typeof import("piscina");
  pool = new Piscina<KernelTask, TaskResult>({
    filename: workerFile(),
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
    // Tasks are posted to a worker even while it still runs an earlier one: a pass that the calling
    // thread finished alone does not wait for its worker task (see executor.ts), and the next pass's
    // task must not sit in the main thread's queue until that one is acknowledged, or the worker
    // would never join it. A worker runs its tasks one after the other; a stale one ends at once.
    concurrentTasksPerWorker: 4,
  });
  poolThreads = workers;
  return pool;
}

/** Whether a pool of this many workers is already running in this process (its start-up is paid). */
export function poolIsWarm(workers: number): boolean {
  return pool !== null && poolThreads === workers;
}

/**
 * Starts the workers now, so that they boot while the caller reads its files (a one-shot CLI run
 * would otherwise wait for them at the first pass). Errors surface at the first real task.
 */
export function prewarmPool(threads: number = defaultThreadCount()): void {
  if (threads > 1) getPool(workersFor(threads));
}

/** Workers for a thread count: the calling thread takes part in every pass, so one fewer. */
export function workersFor(threads: number): number {
  return Math.max(1, threads - 1);
}

/**
 * Posts tasks to a pool of `workers` threads (started first if need be) and returns, once they are
 * posted, the promise of their results: the caller can work on its own share meanwhile. The promise
 * resolves with each task's result (the kernel it ran and the units it claimed).
 * @throws (through the promise) WorkerFailureError naming the pass, as soon as any task fails.
 */
export function startOnPool(tasks: readonly KernelTask[], workers: number, signal?: AbortSignal): { readonly done: Promise<TaskResult[]> } {
  const running = getPool(workers);
  const done = Promise.all(
    tasks.map((task) =>
      running.run(task, signal === undefined ? {} : { signal }).catch((error: unknown) => {
        if (signal?.aborted) throw new InterruptedError("interrupted: the kernel was stopped");
        const { channels } = task.grid.geometry;
        throw new WorkerFailureError(
          `a worker thread failed during ${task.op} (units 0..${task.claims.unitCount - 1} of ${task.grid.unitCount}, ${channels} channels): ${(error as Error)?.message ?? String(error)}`,
          { cause: error },
        );
      }),
    ),
  );
  // Handled by the caller once its own share is done; until then a rejection must not count as unhandled.
  done.catch(() => undefined);
  return { done };
}

/** Stops every worker. Safe to call when no pool exists; a later call starts a fresh pool. */
export async function closePool(): Promise<void> {
  const current = pool;
  pool = null;
  poolThreads = 0;
  if (current !== null) await current.destroy();
}
