/**
 * Loads the WebAssembly SIMD kernel (dist/kernel/bn-kernel.wasm, assembled from
 * src/kernel/bn-kernel.wat at build time) and instantiates it over a tensor arena's memory. The
 * module is compiled once per thread; an instance costs a few microseconds, so workers make one per
 * task with the memory the task carries.
 *
 * Where it cannot load (no SIMD in the engine, a damaged install) or BN_CHECK_KERNEL=js asks for
 * it, passes run the JavaScript kernel, which computes the same bits, only slower.
 */
import { readFileSync } from "node:fs";
import type { SharedWasmMemory } from "../core/arena.js";
import type { WasmKernel } from "../kernel/wasm-abi.js";
import { C_SCALE, DIFF_RECORD_SIZE, WORST_KEPT } from "../kernel/abi.js";

let compiled: WebAssembly.Module | null | undefined;

function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      // Resolved from dist/parallel/ (this module) and from dist/cli/ (the bundled CLI) alike.
      compiled = new WebAssembly.Module(readFileSync(new URL("../kernel/bn-kernel.wasm", import.meta.url)));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

const instances = new WeakMap<SharedWasmMemory, WasmKernel>();

/** The SIMD kernel bound to `memory`, or null when the JavaScript kernel is to run. */
export function wasmKernelFor(memory: SharedWasmMemory | null | undefined): WasmKernel | null {
  if (memory == null || process.env.BN_CHECK_KERNEL === "js") return null;
  const cached = instances.get(memory);
  if (cached !== undefined) return cached;
  const module = kernelModule();
  if (module === null) return null;
  const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmKernel;
  instances.set(memory, kernel);
  return kernel;
}

/** Values of the priming comparison: enough for V8 to schedule the optimised compile (measured: 2,048 are not). */
const PRIME_VALUES = 4096;
let primed = false;

/**
 * Has V8 compile the compare kernel's optimised code now, in the background, rather than when a
 * compare pass has already run a few hundred units on the baseline code. V8 compiles a WebAssembly
 * function with its baseline compiler (Liftoff) on its first call, and with its optimising one
 * (TurboFan; about 10 ms for compare_cols, on a background thread) only once the function has run
 * long enough; until then the pass runs two to three times slower. A check calls this before its
 * statistics pass, so that the compile overlaps that pass: one comparison of zeros, in a memory of
 * its own (compiled code belongs to the module, not to an instance), costs about 0.4 ms beyond the
 * first call's baseline compile, which the pass would pay anyway. Nothing the pass computes changes.
 */
export function primeCompareKernel(): void {
  if (primed || process.env.BN_CHECK_KERNEL === "js") return;
  primed = true;
  const module = kernelModule();
  if (module === null) return;
  // Zeros compared with zeros (float32, one run of PRIME_VALUES); after them, one channel's
  // constants (shift 0, scale 1, the rest 0), its record, the worst list and the histogram.
  const values = PRIME_VALUES * 4;
  const constants = 2 * values;
  const record = constants + 7 * 8;
  const worst = record + DIFF_RECORD_SIZE * 8;
  const histogram = worst + WORST_KEPT * 16;
  try {
    // One page, and no more: the kernel imports a shared memory of at most 4 GiB, and this one
    // reserves no address space beyond its page (where an arena's memory reserves it all).
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as WasmKernel;
    new Float64Array(memory.buffer, constants, 7)[C_SCALE] = 1;
    // biome-ignore format: the arguments in the groups the comments name
    kernel.compare_unit(
      0, values, 1, values, PRIME_VALUES, 4, 1, // input, reference, rows, stride, length, step, index step
      0, PRIME_VALUES, 1, values, PRIME_VALUES, // first index, index stride, channels, channel bytes, channel index step
      constants, 8, 0, 0, 0, // constants, run bytes, atol, rtol, equal NaN
      record, worst, histogram, 0, 0, // record, worst list, histogram, no addend
    );
  } catch {
    // A warm-up only: a host that cannot run it runs the pass as it would have anyway.
  }
}

/** Which kernel passes over arena tensors use in this process: for reports and the bench. */
export function kernelName(): "wasm-simd" | "js" {
  return process.env.BN_CHECK_KERNEL !== "js" && kernelModule() !== null ? "wasm-simd" : "js";
}
