/**
 * The process-wide worker pool. Piscina does the pooling (worker reuse, a task queue, rejecting the
 * tasks of a worker that throws or exits, no respawn loop for workers that fail at start-up); this
 * module sizes it, names failures and shuts it down. The pool is kept for the life of the process so
 * that a `suite` or a library caller pays worker start-up once; idle workers are unref'd by Piscina
 * and do not keep the process alive.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { availableParallelism } from "node:os";
import type { Piscina } from "piscina";
import { InterruptedError, UsageError, WorkerFailureError } from "../core/errors.js";
import type { TaskResult, WorkerTask } from "./task.js";
import { joinedWorkers, runClaimedChunksYielding, type UnitClaims } from "./claim.js";

let pool: Piscina<WorkerTask, TaskResult> | null = null;
let poolThreads = 0;

/**
 * Worker failures seen so far (a worker that could not start, exited or threw). Policy: work never
 * depends on a worker: units a failing worker had not claimed are done by the other threads, so a
 * pass that finished without it is correct, and the run goes on in the calling thread alone (the pool
 * is not used again), with `timings.threads` counting the threads that did work and one warning line
 * (`workerWarning`). A worker that fails after claiming units loses them: that pass ends with a
 * WorkerFailureError, exit 2. A failure never crashes the process or changes a verdict's exit code.
 */
const failures: string[] = [];
/** Bumped whenever a pool is destroyed: its tasks' rejections ("Terminating worker thread") are no failures. */
let generation = 0;
/** How long the end of a run waits for unawaited tasks: a worker boots and answers in tens of ms. */
const SETTLE_WAIT_MS = 2000;

/** Tasks posted but not awaited by their pass (every unit was done before the worker joined). */
const unsettled = new Set<Promise<unknown>>();

function noteFailure(error: unknown): void {
  const message = (error as Error)?.message ?? String(error);
  if (!failures.includes(message)) failures.push(message);
}

/** Whether a worker has failed in this process: passes then run in the calling thread. */
export function poolFailed(): boolean {
  return failures.length > 0;
}

/**
 * Waits for tasks no pass waited for (a booting worker ends a stale task at once), so that a worker
 * that could not start is known before the report is final; then the warning line, or null.
 */
export async function workerWarning(): Promise<string | null> {
  if (unsettled.size > 0) {
    // Piscina's workers do not keep the process alive, so a ref'd timer does while they answer; it
    // also caps the wait, since a stalled worker's task may never end (its units were done anyway).
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SETTLE_WAIT_MS);
    });
    await Promise.race([Promise.allSettled([...unsettled]), cap]);
    clearTimeout(timer);
  }
  if (failures.length === 0) return null;
  return (
    `warning: ${failures.length === 1 ? "a worker thread" : `${failures.length} worker threads`}` +
    ` failed (${failures[0]}); the check ran on the threads that work`
  );
}

/** The default thread count: one per core the OS makes available. */
export function defaultThreadCount(): number {
  return availableParallelism();
}

/** More threads than this many per core only add memory (each worker holds its own engine) and contention. */
const THREADS_PER_CORE = 8;

export function validateThreadCount(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1)
    throw new UsageError(`threads must be an integer >= 1; got ${threads}`);
  const most = THREADS_PER_CORE * availableParallelism();
  if (threads > most)
    throw new UsageError(
      `threads must be at most ${most} (${THREADS_PER_CORE} per core, ${availableParallelism()} cores); got ${threads}`,
    );
  return threads;
}

/**
 * The file each worker runs: the bundled worker, or the one BN_CHECK_WORKER_FILE names (a path or a
 * file URL). The override is how the test suite runs fixture workers that throw, exit, stall or
 * compute differently through the production pool and executor; nothing else reads it.
 */
function workerFile(): string {
  const override = process.env.BN_CHECK_WORKER_FILE;
  if (override !== undefined && override !== "")
    return override.startsWith("file:") ? override : pathToFileURL(override).href;
  // The worker bundled into one CommonJS file (scripts/bundle-cli.mjs; worker-entry.cts says why
  // CommonJS). Resolved from dist/parallel/ (this module) and from dist/cli/ (the bundled CLI) alike.
  return new URL("../parallel/worker.cjs", import.meta.url).href;
}

/**
 * Piscina, loaded on first use (work small enough for the calling thread never pays for it), and
 * synchronously: a pool started before a command reads its files boots while they are read. The build
 * bundles it into one file beside the worker (scripts/bundle-cli.mjs): from node_modules, its twenty
 * files took 17 ms of the calling thread to resolve and compile, bundled 8 ms. Run from the sources
 * (the tests that import src/), there is no bundle: the package itself.
 */
function loadPiscina(): typeof import("piscina") {
  const require = createRequire(import.meta.url);
  const bundled = new URL("../parallel/piscina.cjs", import.meta.url);
  return (existsSync(bundled) ? require(fileURLToPath(bundled)) : require("piscina")) as typeof import("piscina");
}

function getPool(workers: number): Piscina<WorkerTask, TaskResult> {
  if (pool !== null && poolThreads === workers) return pool;
  if (pool !== null) {
    generation++;
    void pool.destroy();
  }
  const { Piscina } = loadPiscina();
  pool = new Piscina<WorkerTask, TaskResult>({
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
  // A worker that fails at start-up is an 'error' event of the pool: unheard, it would end the
  // process with a stack trace after the report is printed.
  pool.on("error", noteFailure);
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
export function startOnPool(
  tasks: readonly WorkerTask[],
  workers: number,
  signal?: AbortSignal,
): { readonly done: Promise<TaskResult[]> } {
  const running = getPool(workers);
  const done = Promise.all(
    tasks.map((task) =>
      running.run(task, signal === undefined ? {} : { signal }).catch((error: unknown) => {
        if (signal?.aborted) throw new InterruptedError("interrupted: the kernel was stopped");
        // Passes are named as the user knows them: a streamed compare is the compare.
        const what =
          task.op === "fill"
            ? `reading ${task.ranges.length} file range${task.ranges.length === 1 ? "" : "s"} (${task.claims.unitCount} units)`
            : `${task.op.replace(/Streamed$/, "")} (units 0..${task.claims.unitCount - 1} of ` +
              `${task.grid.unitCount}, ${task.grid.geometry.channels} channels)`;
        throw new WorkerFailureError(
          `a worker thread failed during ${what}: ${(error as Error)?.message ?? String(error)}`,
          {
            cause: error,
          },
        );
      }),
    ),
  );
  // Handled by the caller once its own share is done; until then a rejection must not count as unhandled.
  const postedIn = generation;
  const settled = done.then(
    () => undefined,
    (error: unknown) => {
      if (!signal?.aborted && postedIn === generation) noteFailure((error as Error)?.cause ?? error);
    },
  );
  unsettled.add(settled);
  void settled.then(() => unsettled.delete(settled));
  return { done };
}

/**
 * Shares `claims` between `workers` workers, each posted `task`, and this thread, which claims
 * chunks with `runHere` meanwhile (unless `callerClaims` is false: tests of the workers alone).
 * Returns the units this thread ran and the workers' results; `results` is null when no worker had
 * joined by the time every unit was claimed: their tasks end at once when they start, and nothing
 * waits for them (the pass or fill is done).
 */
export async function shareClaims(
  task: WorkerTask,
  claims: UnitClaims,
  workers: number,
  options: { readonly signal?: AbortSignal; readonly callerClaims?: boolean },
  runHere: (firstUnit: number, endUnit: number) => void,
): Promise<{ readonly mine: number; readonly results: TaskResult[] | null }> {
  const { done } = startOnPool(
    Array.from({ length: workers }, () => task),
    workers,
    options.signal,
  );
  if (options.callerClaims === false) return { mine: 0, results: await done };
  const mine = await runClaimedChunksYielding(claims, workers, runHere);
  return { mine, results: joinedWorkers(claims) === 0 ? null : await done };
}

/**
 * Stops every worker. Safe to call when no pool exists; a later call starts a fresh pool, and
 * forgets earlier worker failures (a library caller can try the pool again).
 */
export async function closePool(): Promise<void> {
  failures.length = 0;
  unsettled.clear();
  generation++;
  const current = pool;
  pool = null;
  poolThreads = 0;
  if (current !== null) await current.destroy();
}
