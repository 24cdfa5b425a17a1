/** The messages the pool sends to a worker, and what it answers. Plain data: structured-clone safe, buffers shared. */
import type { UnitGrid } from "../kernel/units.js";
import type { SharedWasmMemory } from "../core/arena.js";
import type { UnitClaims } from "./claim.js";
import type { PassName, PassParams } from "./passes.js";
import type { SharedArrayDescriptor } from "./shared-tensor.js";

/** One pass for one worker: the units are claimed chunk by chunk (see claim.ts). */
export interface KernelTask<Op extends PassName = PassName> {
  readonly op: Op;
  readonly grid: UnitGrid;
  readonly claims: UnitClaims;
  /** Every array of the pass (given and scratch), by the names `PASSES[op]` uses. */
  readonly arrays: Readonly<Record<string, SharedArrayDescriptor>>;
  readonly params: PassParams<Op>;
  /** The arena memory the arrays live in when the SIMD kernel runs the pass (null: the JS kernel). */
  readonly memory: SharedWasmMemory | null;
}

/** Which kernel ran a task or a pass: the WebAssembly SIMD one or the JavaScript one (the same bits). */
export type KernelName = "wasm-simd" | "js";

/** A worker's answer: the kernel it ran and how many units it claimed. */
export interface TaskResult {
  readonly kernel: KernelName;
  readonly units: number;
}
