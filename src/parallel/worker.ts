/**
 * Worker entry (run by the pool): rebuilds views over the shared buffers, runs `PASSES[task.op]` on
 * the chunks of units it claims and writes results in place. It answers with the kernel that ran
 * and the units it claimed: all data moves through shared memory.
 */
import { joinClaims, runClaimedChunks } from "./claim.js";
import { PASSES, type PassArrays, type PassDefinition } from "./passes.js";
import { viewShared } from "./shared-tensor.js";
import type { WorkerTask, TaskResult } from "./task.js";
import { runFillTask } from "./fill.js";
import { wasmKernelFor } from "./wasm-kernel.js";

export default function runKernelTask(task: WorkerTask): TaskResult {
  if (task.op === "fill") return runFillTask(task);
  joinClaims(task.claims);
  const pass = PASSES[task.op] as PassDefinition<unknown>;
  const arrays: PassArrays = Object.fromEntries(
    Object.entries(task.arrays).map(([name, descriptor]) => [name, viewShared(descriptor)]),
  );
  const wasm = wasmKernelFor(task.memory);
  const units = runClaimedChunks(task.claims, (first, end) =>
    wasm === null
      ? pass.js(arrays, task.grid, task.params, first, end)
      : pass.wasm(wasm, arrays, task.grid, task.params, first, end),
  );
  return { kernel: wasm === null ? "js" : "wasm-simd", units };
}
