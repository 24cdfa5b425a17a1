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

/** Which kernel passes over arena tensors use in this process: for reports and the bench. */
export function kernelName(): "wasm-simd" | "js" {
  return process.env.BN_CHECK_KERNEL !== "js" && kernelModule() !== null ? "wasm-simd" : "js";
}
