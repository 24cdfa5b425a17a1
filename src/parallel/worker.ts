/**
 * Worker entry (run by the pool): rebuilds views over the shared buffers, runs the kernel on a range
 * of units and writes results in place. It returns nothing but the name of the kernel that ran:
 * all data moves through shared memory.
 */
import { computeStatsUnits, compareUnits, normalizeUnits } from "../kernel/batch-norm.js";
import { viewShared } from "./shared-tensor.js";
import type { KernelName, KernelTask } from "./task.js";
import { wasmKernelFor } from "./wasm-kernel.js";

export default function runKernelTask(task: KernelTask): KernelName {
  if (task.injectFault === "throw") throw new Error(`injected fault in ${task.op} units [${task.firstUnit}, ${task.endUnit})`);
  if (task.injectFault === "exit") process.exit(70);
  const input = viewShared(task.input);
  const wasm = wasmKernelFor(task.memory);
  switch (task.op) {
    case "stats":
      computeStatsUnits(input, task.grid, task.firstUnit, task.endUnit, viewShared(task.partials) as Float64Array, wasm);
      break;
    case "normalize":
      normalizeUnits(input, task.grid, viewShared(task.constants) as Float64Array, task.firstUnit, task.endUnit, viewShared(task.output), wasm);
      break;
    case "compare":
      compareUnits(
        input,
        viewShared(task.reference),
        task.grid,
        viewShared(task.constants) as Float64Array,
        task.rule,
        task.firstUnit,
        task.endUnit,
        viewShared(task.records) as Float64Array,
        viewShared(task.worst) as Float64Array,
        wasm,
      );
      break;
  }
  return wasm === null ? "js" : "wasm-simd";
}
