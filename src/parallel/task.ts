/** The messages the pool sends to a worker. Plain data: structured-clone safe, buffers shared. */
import type { DiffRule } from "../kernel/diff.js";
import type { UnitGrid } from "../kernel/units.js";
import type { SharedWasmMemory } from "../memory/arena.js";
import type { UnitClaims } from "./claim.js";
import type { SharedArrayDescriptor } from "./shared-tensor.js";

/** Test-only fault injection: makes a worker throw or exit mid-task. */
export type InjectedFault = "throw" | "exit";

interface TaskBase {
  readonly grid: UnitGrid;
  /** The pass's units, claimed chunk by chunk (see claim.ts). */
  readonly claims: UnitClaims;
  readonly input: SharedArrayDescriptor;
  readonly injectFault?: InjectedFault;
}

/** Passes the SIMD kernel can run carry the arena memory their arrays live in (null: the JS kernel). */
interface SimdCapable {
  readonly memory: SharedWasmMemory | null;
}

export interface StatsTask extends TaskBase, SimdCapable {
  readonly op: "stats";
  readonly partials: SharedArrayDescriptor;
}

export interface NormalizeTask extends TaskBase, SimdCapable {
  readonly op: "normalize";
  readonly constants: SharedArrayDescriptor;
  readonly output: SharedArrayDescriptor;
}

export interface CompareTask extends TaskBase, SimdCapable {
  readonly op: "compare";
  readonly constants: SharedArrayDescriptor;
  readonly reference: SharedArrayDescriptor;
  readonly rule: DiffRule;
  readonly records: SharedArrayDescriptor;
  readonly worst: SharedArrayDescriptor;
}

export type KernelTask = StatsTask | NormalizeTask | CompareTask;

/** Which kernel ran a task or a pass: the WebAssembly SIMD one or the JavaScript one (the same bits). */
export type KernelName = "wasm-simd" | "js";
