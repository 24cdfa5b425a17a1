/**
 * The process-wide worker pool. Piscina does the pooling (worker reuse, a task queue, rejecting the
 * tasks of a worker that throws or exits, no respawn loop for workers that fail at start-up); this
 * module sizes it, names failures and shuts it down. The pool is kept for the life of the process so
 * that a `suite` or a library caller pays worker start-up once; idle workers are unref'd by Piscina
 * and do not keep the process alive.
 */
import { availableParallelism } from "node:os";
import type { Piscina } from "piscina";
import { InterruptedError, UsageError, WorkerFailureError } from "../errors.js";
import type { KernelName, KernelTask } from "./task.js";

let pool: Piscina<KernelTask, KernelName> | null = null;
let poolThreads = 0;

/** The default thread count: one per core the OS makes available. */
export function defaultThreadCount(): number {
  return availableParallelism();
}

export function validateThreadCount(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`threads must be an integer >= 1; got ${threads}`);
  return threads;
}

async function getPool(threads: number): Promise<Piscina<KernelTask, KernelName>> {
  if (pool !== null && poolThreads === threads) return pool;
  if (pool !== null) void pool.destroy();
  // Loaded on first use: work small enough for the calling thread never pays for it.
  const { Piscina } = await import("piscina");
  pool = new Piscina<KernelTask, KernelName>({
    // A CommonJS entry that imports the ES worker: see worker-entry.cts for why.
    // Resolved from dist/parallel/ (this module) and from dist/cli/ (the bundled CLI) alike.
    filename: new URL("../parallel/worker-entry.cjs", import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    // One task per worker at a time: tasks are large and equal, queueing on a busy worker only adds latency.
    concurrentTasksPerWorker: 1,
  });
  poolThreads = threads;
  return pool;
}

/** Whether a pool of this size is already running in this process (its start-up is paid). */
export function poolIsWarm(threads: number): boolean {
  return pool !== null && poolThreads === threads;
}

/**
 * Starts the workers now, so that they boot while the caller reads its files (a one-shot CLI run
 * would otherwise wait for them at the first pass). Errors surface at the first real task.
 */
export function prewarmPool(threads: number = defaultThreadCount()): void {
  if (threads > 1) void getPool(threads).catch(() => undefined);
}

/**
 * Runs tasks on the pool and resolves, when all are done, with the kernel each one ran on.
 * @throws WorkerFailureError naming the first failed task's work, as soon as any task fails.
 */
export async function runOnPool(tasks: readonly KernelTask[], threads: number, signal?: AbortSignal): Promise<KernelName[]> {
  const workers = await getPool(threads);
  return Promise.all(
    tasks.map((task) =>
      workers.run(task, signal === undefined ? {} : { signal }).catch((error: unknown) => {
        if (signal?.aborted) throw new InterruptedError("interrupted: the kernel was stopped");
        const { channels } = task.grid.geometry;
        throw new WorkerFailureError(
          `a worker thread failed during ${task.op} (units ${task.firstUnit}..${task.endUnit - 1} of ${task.grid.unitCount}, ${channels} channels): ${(error as Error)?.message ?? String(error)}`,
          { cause: error },
        );
      }),
    ),
  );
}

/** Stops every worker. Safe to call when no pool exists; a later call starts a fresh pool. */
export async function closePool(): Promise<void> {
  const current = pool;
  pool = null;
  poolThreads = 0;
  if (current !== null) await current.destroy();
}
