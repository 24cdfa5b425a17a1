/** Which kernel each pass of a call ran on, for `timings` in results and reports. */
import type { KernelName } from "../parallel/task.js";

/** Pass name → kernel, for the passes that ran (eval mode has no statistics pass). */
export type PassKernels = Readonly<Record<string, KernelName>>;

export function passKernels(passes: Readonly<Record<string, KernelName | null>>): PassKernels {
  const kernels: Record<string, KernelName> = {};
  for (const [pass, kernel] of Object.entries(passes)) if (kernel !== null) kernels[pass] = kernel;
  return kernels;
}
