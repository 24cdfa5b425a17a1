/**
 * Runs kernel passes over a unit grid, on the worker pool or in this thread. Both paths call the same
 * kernel functions on the same units, so the choice never changes a bit of the result: small work
 * stays in-process because starting workers would cost more than the arithmetic.
 */
import type { UnitGrid } from "../kernel/units.js";
import { InterruptedError } from "../core/errors.js";
import { newUnitClaims } from "./claim.js";
import {
  defaultThreadCount,
  poolFailed,
  poolIsWarm,
  prewarmPool,
  shareClaims,
  validateThreadCount,
  workersFor,
} from "./pool.js";
import { arenaOf, commonArena } from "../core/arena.js";
import { PASSES, type PassArrays, type PassDefinition, type PassName, type PassParams } from "./passes.js";
import { describeShared, sharedFloat64 } from "./shared-tensor.js";
import { wasmKernelFor } from "./wasm-kernel.js";
import type { KernelName, KernelTask } from "./task.js";

type Values = Float32Array | Float64Array;

/** Below this many elements, passes run in the calling thread when the pool is already running. */
export const DEFAULT_PARALLEL_THRESHOLD = 1 << 18;
/**
 * From this many elements a one-shot run (no pool running yet) starts its workers before it reads
 * anything and shares the passes with them; below it, it runs in the calling thread. Starting a
 * worker costs CPU time (50-60 ms here: an engine of its own, the bundle, the kernel compiled again)
 * on the cores the run needs, and a thread's first pass costs more than its later ones; and since
 * `compare` streams its tensors from their files (stream.ts), there is no read for workers to boot
 * behind. Measured with bench/cold-threshold.mjs (whole-process `compare --format json`, train mode,
 * N x 64 x 32 x 32 float32, `--threads 1` against `--threads 2` on a cold pool; median of 11 runs,
 * 2 cores), pool / one thread: 2^23 1.15, 2^24 1.09, 2^25 0.97; S1 (32x64x56x56, 2^22.6) 1.22; S1b
 * (32x256x56x56, 2^24.6) 0.97 (9 runs). The pool stops costing between 2^24 and 2^25: 24 Mi elements.
 * (Before streaming, when workers booted behind a read: 2^23 1.01, 2^24 0.87, S1 1.10.)
 */
export const COLD_PARALLEL_THRESHOLD = 24 * 2 ** 20;

/**
 * COLD_PARALLEL_THRESHOLD, or BN_CHECK_COLD_THRESHOLD (elements) when set: the knob
 * bench/cold-threshold.mjs turns to time one-shot runs with and without the pool at every size.
 */
export function coldParallelThreshold(): number {
  const given = process.env.BN_CHECK_COLD_THRESHOLD;
  const value = given === undefined || given === "" ? Number.NaN : Number(given);
  return Number.isInteger(value) && value >= 0 ? value : COLD_PARALLEL_THRESHOLD;
}

/**
 * Starts the pool now when `elements` of work will be shared by a one-shot command: from the cold
 * threshold on, workers start before the command reads anything, and join its passes (or the reading
 * of its files) as soon as they are up (the calling thread does the work of workers still starting,
 * and does not wait for them). Below it the passes run in the calling thread, and starting workers
 * would only compete with it.
 */
export function prewarmFor(elements: number, options: ExecutionOptions): void {
  const threads = options.threads ?? defaultThreadCount();
  if (
    threads > 1 &&
    elements >= coldParallelThreshold() &&
    (options.parallelThreshold ?? 0) <= elements &&
    !poolFailed()
  )
    prewarmPool(threads);
}

export interface ExecutionOptions {
  /** Worker threads; default: `os.availableParallelism()`. 1 runs in the calling thread. */
  readonly threads?: number;
  /** Element count under which the calling thread does the work; 0 forces the pool. */
  readonly parallelThreshold?: number;
  /**
   * Chunks per thread a pooled pass is cut into for claiming (default 8; see claim.ts). A claim is
   * one atomic add, so chunks can be small enough that a thread that was descheduled is caught up
   * by the others; results never depend on it.
   */
  readonly chunksPerThread?: number;
  /** Aborts running passes (Ctrl-C): workers in the middle of a task are stopped. */
  readonly signal?: AbortSignal;
  /**
   * false: the calling thread claims no units of a pooled pass, so the workers must do them all —
   * for tests of what workers do, which on one core would otherwise find the calling thread done
   * before any worker ran. Results are the same bits either way.
   */
  readonly callerClaims?: boolean;
}

export interface ExecutionPlan {
  readonly threads: number;
  readonly useWorkers: boolean;
}

export function planExecution(grid: UnitGrid, options: ExecutionOptions): ExecutionPlan {
  const threads = validateThreadCount(options.threads ?? defaultThreadCount());
  const { outer, channels, inner } = grid.geometry;
  const elements = outer * channels * inner;
  const threshold =
    options.parallelThreshold ??
    (poolIsWarm(workersFor(threads)) ? DEFAULT_PARALLEL_THRESHOLD : coldParallelThreshold());
  // After a worker failure the run goes on in the calling thread alone (pool.ts says why).
  const useWorkers = threads > 1 && grid.unitCount > 0 && elements >= threshold && !poolFailed();
  return { threads: useWorkers ? threads : 1, useWorkers };
}

/** What a pass did: the scratch arrays it filled, the kernel that ran, and who ran which units. */
export interface PassResult {
  /** The pass's scratch arrays (per-unit results), by name. */
  readonly arrays: Readonly<Record<string, Float64Array>>;
  /** "wasm-simd" when every thread that took part ran the SIMD kernel, else "js". */
  readonly kernel: KernelName;
  /** Units claimed by each thread: the calling thread first, then each worker (0: did not join). */
  readonly unitsByThread: readonly number[];
}

/**
 * The SIMD kernel when it can run a pass (its tensors float32, every array of the pass in one arena,
 * the kernel loadable, the pass's own condition), else null for the JavaScript kernel (the same bits).
 */
function simdFor<P>(pass: PassDefinition<P>, arrays: PassArrays, grid: UnitGrid, params: P) {
  if (!pass.tensors.every((name) => arrays[name] instanceof Float32Array) || !pass.simd(grid, params)) return null;
  const memory = commonArena(...Object.values(arrays))?.memory ?? null;
  const wasm = wasmKernelFor(memory);
  return wasm === null ? null : { memory, wasm };
}

/**
 * Gives a pass's scratch arrays back to their arena, the last allocated first (a bump allocator
 * takes back only its top), so that a caller running pass after pass does not grow the arena.
 */
export function releaseScratch(result: PassResult): void {
  for (const values of Object.values(result.arrays).reverse()) arenaOf(values)?.release(values);
}

/**
 * Runs pass `op` over every unit of `grid`: here, or on the pool, where `plan.threads − 1` workers
 * and this thread claim chunks of units until none is left. Scratch arrays are allocated beside the
 * input (in its arena, when it has one).
 */
export async function runPass<Op extends PassName>(
  op: Op,
  given: Readonly<Record<string, Values>>,
  grid: UnitGrid,
  params: PassParams<Op>,
  plan: ExecutionPlan,
  options: ExecutionOptions,
): Promise<PassResult> {
  const pass = PASSES[op] as PassDefinition<PassParams<Op>>;
  const input = given[pass.given[0]];
  const scratch: Record<string, Float64Array> = {};
  for (const [name, length] of Object.entries(pass.scratch)) scratch[name] = sharedFloat64(length(grid), input);
  const arrays: PassArrays = { ...given, ...scratch };
  const simd = simdFor(pass, arrays, grid, params);
  const runHere = (first: number, end: number) =>
    simd === null ? pass.js(arrays, grid, params, first, end) : pass.wasm(simd.wasm, arrays, grid, params, first, end);
  const here: KernelName = simd === null ? "js" : "wasm-simd";

  // Yield to the event loop before each pass, so that a pending SIGINT is seen between passes even
  // when the work itself is synchronous (in-process passes).
  await new Promise((resolve) => setImmediate(resolve));
  if (options.signal?.aborted) throw new InterruptedError("interrupted");
  if (!plan.useWorkers) {
    runHere(0, grid.unitCount);
    return { arrays: scratch, kernel: here, unitsByThread: [grid.unitCount] };
  }
  const claims = newUnitClaims(grid.unitCount, plan.threads, options.chunksPerThread ?? 8);
  const workers = workersFor(plan.threads);
  const descriptors = Object.fromEntries(
    Object.entries(arrays).map(([name, values]) => [name, describeShared(values)]),
  );
  const task: KernelTask<Op> = { op, grid, claims, arrays: descriptors, params, memory: simd?.memory ?? null };
  const { mine, results } = await shareClaims(task, claims, workers, options, runHere);
  // Workers that had not joined when every unit was claimed (still starting) did nothing in this pass.
  if (results === null)
    return { arrays: scratch, kernel: here, unitsByThread: [mine, ...Array.from({ length: workers }, () => 0)] };
  const kernels = [here, ...results.filter((r) => r.units > 0).map((r) => r.kernel)];
  return {
    arrays: scratch,
    kernel: kernels.every((k) => k === "wasm-simd") ? "wasm-simd" : "js",
    unitsByThread: [mine, ...results.map((r) => r.units)],
  };
}

/** Threads that claimed work in any of the passes (at least 1). */
export function threadsThatWorked(unitsByThread: Readonly<Record<string, readonly number[]>>): number {
  return Math.max(1, ...Object.values(unitsByThread).map((units) => units.filter((u) => u > 0).length));
}
