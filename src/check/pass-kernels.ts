/** Which kernel each pass of a call ran on, and which thread claimed how many units, for `timings`. */
import type { KernelName } from "../parallel/task.js";

/** Pass name → kernel, for the passes that ran (eval mode has no statistics pass). */
export type PassKernels = Readonly<Record<string, KernelName>>;

/** Pass name → units each thread claimed (the calling thread first), for the passes that ran. */
export type PassUnits = Readonly<Record<string, readonly number[]>>;

export function passUnits(passes: Readonly<Record<string, readonly number[] | null>>): PassUnits {
  const units: Record<string, readonly number[]> = {};
  for (const [pass, byThread] of Object.entries(passes)) if (byThread !== null) units[pass] = byThread;
  return units;
}

export function passKernels(passes: Readonly<Record<string, KernelName | null>>): PassKernels {
  const kernels: Record<string, KernelName> = {};
  for (const [pass, kernel] of Object.entries(passes)) if (kernel !== null) kernels[pass] = kernel;
  return kernels;
}
