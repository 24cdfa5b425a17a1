/**
 * Runs kernel passes over a unit grid, on the worker pool or in this thread. Both paths call the same
 * kernel functions on the same units, so the choice never changes a bit of the result: small work
 * stays in-process because starting workers would cost more than the arithmetic.
 */
import { compareUnits, computeStatsUnits, simdRunsStats, diffRecordsLength, normalizeUnits, statsPartialsLength, worstListsLength } from "../kernel/batch-norm.js";
import type { DiffRule } from "../kernel/diff.js";
import type { UnitGrid } from "../kernel/units.js";
import { InterruptedError } from "../errors.js";
import { joinedWorkers, newUnitClaims, runClaimedChunks, type UnitClaims } from "./claim.js";
import { defaultThreadCount, poolIsWarm, prewarmPool, startOnPool, validateThreadCount, workersFor } from "./pool.js";
import { commonArena, type SharedWasmMemory } from "../memory/arena.js";
import { describeShared, sharedFloat64 } from "./shared-tensor.js";
import { wasmKernelFor } from "./wasm-kernel.js";
import type { WasmKernel } from "../kernel/wasm-abi.js";
import type { InjectedFault, KernelName, KernelTask } from "./task.js";

type Values = Float32Array | Float64Array;

/** Below this many elements, passes run in the calling thread when the pool is already running. */
export const DEFAULT_PARALLEL_THRESHOLD = 1 << 18;
/**
 * Starting workers costs tens of milliseconds of CPU (each loads and compiles the kernel): a
 * one-shot run gains from them only above this size (measured on 2 cores: S1, 6.4M elements, is
 * faster in one thread from a cold start; S1b, 25.7M, in two).
 */
export const COLD_PARALLEL_THRESHOLD = 1 << 24;

/**
 * From this many input elements a one-shot command starts its workers before it reads its files, so
 * that they boot while it reads; the passes then use the pool (the calling thread does the work of
 * workers still booting, and does not wait for them). Measured on 2 cores: `compare` on 25.7M
 * elements takes 0.30 s instead of 0.36–0.41 s; on 6.4M it gains nothing (booting workers compete
 * with the read, and arrive cold), so the line is drawn at 2^23.
 */
export const PREWARM_ELEMENTS = 1 << 23;

/** Starts the pool now when `elements` of work will be shared (see PREWARM_ELEMENTS). */
export function prewarmFor(elements: number, options: ExecutionOptions): void {
  const threads = options.threads ?? defaultThreadCount();
  if (threads > 1 && elements >= PREWARM_ELEMENTS && (options.parallelThreshold ?? 0) <= elements) prewarmPool(threads);
}

export interface ExecutionOptions {
  /** Worker threads; default: `os.availableParallelism()`. 1 runs in the calling thread. */
  readonly threads?: number;
  /** Element count under which the calling thread does the work; 0 forces the pool. */
  readonly parallelThreshold?: number;
  /** Test-only: make the workers fail. */
  readonly injectFault?: InjectedFault;
  /**
   * Chunks per thread a pooled pass is cut into for claiming (default 8; see claim.ts). A claim is
   * one atomic add, so chunks can be small enough that a thread that was descheduled is caught up
   * by the others; results never depend on it.
   */
  readonly chunksPerThread?: number;
  /** Aborts running passes (Ctrl-C): workers in the middle of a task are stopped. */
  readonly signal?: AbortSignal;
  /** Test-only: wait this long before each pass, so that interruption tests need no huge data. */
  readonly delayMs?: number;
}

export interface ExecutionPlan {
  readonly threads: number;
  readonly useWorkers: boolean;
}

export function planExecution(grid: UnitGrid, options: ExecutionOptions): ExecutionPlan {
  const threads = validateThreadCount(options.threads ?? defaultThreadCount());
  const { outer, channels, inner } = grid.geometry;
  const elements = outer * channels * inner;
  const threshold = options.parallelThreshold ?? (poolIsWarm(workersFor(threads)) ? DEFAULT_PARALLEL_THRESHOLD : COLD_PARALLEL_THRESHOLD);
  const useWorkers = (threads > 1 || options.injectFault !== undefined) && grid.unitCount > 0 && elements >= threshold;
  return { threads: useWorkers ? threads : 1, useWorkers };
}

/**
 * Runs a pass here or on the pool; resolves with the kernel that ran it ("js" if any part did). On
 * the pool, `plan.threads − 1` workers and this thread claim chunks of units until none is left.
 */
async function dispatch(grid: UnitGrid, plan: ExecutionPlan, options: ExecutionOptions, makeTask: (claims: UnitClaims) => KernelTask, runUnits: (firstUnit: number, endUnit: number) => KernelName): Promise<KernelName> {
  // Yield to the event loop before each pass, so that a pending SIGINT is seen between passes even
  // when the work itself is synchronous (in-process passes).
  await new Promise((resolve) => (options.delayMs ? setTimeout(resolve, options.delayMs) : setImmediate(resolve)));
  if (options.signal?.aborted) throw new InterruptedError("interrupted");
  if (!plan.useWorkers) return runUnits(0, grid.unitCount);
  const claims = newUnitClaims(grid.unitCount, plan.threads, options.chunksPerThread ?? 8);
  const workers = workersFor(plan.threads);
  const { done } = startOnPool(
    Array.from({ length: workers }, () => makeTask(claims)),
    workers,
    options.signal,
  );
  let here: KernelName | null = null;
  runClaimedChunks(claims, (first, end) => {
    here = runUnits(first, end);
  });
  // Every unit is claimed. Workers that had not joined by now (still starting) have nothing to do
  // in this pass: do not wait for them (their tasks end at once when they start). Injected faults
  // always wait, so that a failing worker fails the pass it was given.
  if (here !== null && joinedWorkers(claims) === 0 && options.injectFault === undefined) return here;
  const kernels = await done;
  return [here ?? kernels[0], ...kernels].every((kernel) => kernel === "wasm-simd") ? "wasm-simd" : "js";
}

/** The kernel a pass runs on: the SIMD one bound to the arena memory (sent to the workers), or JS. */
interface PassKernel {
  readonly memory: SharedWasmMemory | null;
  readonly wasm: WasmKernel | null;
  readonly name: KernelName;
}

const JS_KERNEL: PassKernel = { memory: null, wasm: null, name: "js" };

/**
 * The SIMD kernel when it can run a pass (float32 tensors, every array of the pass in the same
 * arena, the kernel loadable), looked up once per pass; else the JavaScript kernel (the same bits).
 */
function passKernel(tensors: readonly Values[], others: readonly Float64Array[]): PassKernel {
  if (!tensors.every((values) => values instanceof Float32Array)) return JS_KERNEL;
  const memory = commonArena(...tensors, ...others)?.memory ?? null;
  const wasm = wasmKernelFor(memory);
  return wasm === null ? JS_KERNEL : { memory, wasm, name: "wasm-simd" };
}

/** Partial statistics of every unit (see `computeStatsUnits`). */
export async function runStatsPass(input: Values, grid: UnitGrid, plan: ExecutionPlan, options: ExecutionOptions): Promise<{ partials: Float64Array; kernel: KernelName }> {
  const partials = sharedFloat64(statsPartialsLength(grid), input);
  const kernel = simdRunsStats(grid.geometry) ? passKernel([input], [partials]) : JS_KERNEL;
  const ran = await dispatch(
    grid,
    plan,
    options,
    (claims) => ({ op: "stats", grid, claims, input: describeShared(input), partials: describeShared(partials), memory: kernel.memory, injectFault: options.injectFault }),
    (first, end) => {
      computeStatsUnits(input, grid, first, end, partials, kernel.wasm);
      return kernel.name;
    },
  );
  return { partials, kernel: ran };
}

export async function runNormalizePass(input: Values, grid: UnitGrid, constants: Float64Array, output: Values, plan: ExecutionPlan, options: ExecutionOptions): Promise<KernelName> {
  const kernel = passKernel([input, output], [constants]);
  return dispatch(
    grid,
    plan,
    options,
    (claims) => ({
      op: "normalize",
      grid,
      claims,
      input: describeShared(input),
      constants: describeShared(constants),
      output: describeShared(output),
      memory: kernel.memory,
      injectFault: options.injectFault,
    }),
    (first, end) => {
      normalizeUnits(input, grid, constants, first, end, output, kernel.wasm);
      return kernel.name;
    },
  );
}

export interface ComparePassResult {
  readonly records: Float64Array;
  readonly worst: Float64Array;
  readonly kernel: KernelName;
}

export async function runComparePass(
  input: Values,
  reference: Values,
  grid: UnitGrid,
  constants: Float64Array,
  rule: DiffRule,
  plan: ExecutionPlan,
  options: ExecutionOptions,
): Promise<ComparePassResult> {
  const records = sharedFloat64(diffRecordsLength(grid), input);
  const worst = sharedFloat64(worstListsLength(grid), input);
  // The SIMD kernel counts float32 ulps of a float32 reference; other precisions stay with JavaScript.
  const kernel = rule.ulpDtype === "float32" ? passKernel([input, reference], [constants, records, worst]) : JS_KERNEL;
  const ran = await dispatch(
    grid,
    plan,
    options,
    (claims) => ({
      op: "compare",
      grid,
      claims,
      input: describeShared(input),
      reference: describeShared(reference),
      constants: describeShared(constants),
      rule,
      records: describeShared(records),
      worst: describeShared(worst),
      memory: kernel.memory,
      injectFault: options.injectFault,
    }),
    (first, end) => {
      compareUnits(input, reference, grid, constants, rule, first, end, records, worst, kernel.wasm);
      return kernel.name;
    },
  );
  return { records, worst, kernel: ran };
}
