/**
 * Descriptors that carry typed arrays to workers without copying: a SharedArrayBuffer is passed by
 * reference in postMessage, and the worker rebuilds the same view over it.
 */
import { arenaOf } from "../core/arena.js";
import { allocateShared } from "../core/tensor.js";

export type ElementType = "f32" | "f64";

export interface SharedArrayDescriptor {
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
  readonly type: ElementType;
}

type Values = Float32Array | Float64Array;

/**
 * Returns the array itself when it already lives in shared memory, else a shared copy (in the ambient arena if any).
 */
export function toShared<T extends Values>(values: T): T {
  if (values.buffer instanceof SharedArrayBuffer) return values;
  const copy = allocateShared(values instanceof Float64Array ? "float64" : "float32", values.length) as T;
  copy.set(values);
  return copy;
}

export function describeShared(values: Values): SharedArrayDescriptor {
  if (!(values.buffer instanceof SharedArrayBuffer))
    throw new TypeError("describeShared: the array is not backed by a SharedArrayBuffer");
  return {
    buffer: values.buffer,
    byteOffset: values.byteOffset,
    length: values.length,
    type: values instanceof Float64Array ? "f64" : "f32",
  };
}

export function viewShared(descriptor: SharedArrayDescriptor): Values {
  return descriptor.type === "f64"
    ? new Float64Array(descriptor.buffer, descriptor.byteOffset, descriptor.length)
    : new Float32Array(descriptor.buffer, descriptor.byteOffset, descriptor.length);
}

/**
 * A shared Float64Array of zeros; in the arena of `beside` when given and it lives in one, so that
 * the SIMD kernel can write per-unit results or read per-channel constants next to the tensor.
 */
export function sharedFloat64(length: number, beside?: Values): Float64Array {
  const inArena = beside === undefined ? null : arenaOf(beside)?.allocate("f64", Math.max(1, length));
  return (
    (inArena as Float64Array | null | undefined) ?? new Float64Array(new SharedArrayBuffer(Math.max(1, length) * 8))
  );
}
