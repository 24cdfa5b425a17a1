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

/** A range as it travels to a worker: the target as its shared buffer and place in it. */
export interface SharedFileRange {
  readonly fd: number;
  readonly position: number;
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
}

/** Copying file ranges into shared memory (fill.ts): the units are FILL_UNIT_BYTES of the ranges in turn. */
export interface FillTask {
  readonly op: "fill";
  readonly claims: UnitClaims;
  readonly ranges: readonly SharedFileRange[];
  /** The first unit of each range, and the unit count after the last. */
  readonly starts: readonly number[];
}

/** Anything the pool sends a worker. */
export type WorkerTask = KernelTask | FillTask;

/** Which kernel ran a task or a pass: the WebAssembly SIMD one or the JavaScript one (the same bits). */
export type KernelName = "wasm-simd" | "js";

/** A worker's answer: the kernel it ran and how many units it claimed. */
export interface TaskResult {
  readonly kernel: KernelName;
  readonly units: number;
  /** A fill task's range whose file ended early (-1: none); absent for passes. */
  readonly endedEarly?: number;
}
