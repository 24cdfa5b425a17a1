/**
 * Worker entry (run by the pool): rebuilds views over the shared buffers, runs the kernel on the
 * chunks of units it claims and writes results in place. It returns nothing but the name of the kernel that ran:
 * all data moves through shared memory.
 */
import { computeStatsUnits, compareUnits, normalizeUnits } from "../kernel/batch-norm.js";
import { joinClaims, runClaimedChunks } from "./claim.js";
import { viewShared } from "./shared-tensor.js";
import type { KernelName, KernelTask } from "./task.js";
import { wasmKernelFor } from "./wasm-kernel.js";

export default function runKernelTask(task: KernelTask): KernelName {
  joinClaims(task.claims);
  if (task.injectFault === "throw") throw new Error(`injected fault in ${task.op}`);
  if (task.injectFault === "exit") process.exit(70);
  const input = viewShared(task.input);
  const wasm = wasmKernelFor(task.memory);
  switch (task.op) {
    case "stats": {
      const partials = viewShared(task.partials) as Float64Array;
      runClaimedChunks(task.claims, (first, end) => computeStatsUnits(input, task.grid, first, end, partials, wasm));
      break;
    }
    case "normalize": {
      const constants = viewShared(task.constants) as Float64Array;
      const output = viewShared(task.output);
      runClaimedChunks(task.claims, (first, end) => normalizeUnits(input, task.grid, constants, first, end, output, wasm));
      break;
    }
    case "compare": {
      const reference = viewShared(task.reference);
      const constants = viewShared(task.constants) as Float64Array;
      const records = viewShared(task.records) as Float64Array;
      const worst = viewShared(task.worst) as Float64Array;
      runClaimedChunks(task.claims, (first, end) => compareUnits(input, reference, task.grid, constants, task.rule, first, end, records, worst, wasm));
      break;
    }
  }
  return wasm === null ? "js" : "wasm-simd";
}
