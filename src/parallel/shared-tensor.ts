/**
 * Descriptors that carry typed arrays to workers without copying: a SharedArrayBuffer is passed by
 * reference in postMessage, and the worker rebuilds the same view over it.
 */
export type ElementType = "f32" | "f64";

export interface SharedArrayDescriptor {
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
  readonly type: ElementType;
}

type Values = Float32Array | Float64Array;

/** Returns the array itself when it already lives in shared memory, else a shared copy. */
export function toShared<T extends Values>(values: T): T {
  if (values.buffer instanceof SharedArrayBuffer) return values;
  const copy = new (values.constructor as { new (buffer: SharedArrayBuffer): T })(new SharedArrayBuffer(values.byteLength));
  copy.set(values);
  return copy;
}

export function describeShared(values: Values): SharedArrayDescriptor {
  if (!(values.buffer instanceof SharedArrayBuffer)) throw new TypeError("describeShared: the array is not backed by a SharedArrayBuffer");
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

export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Math.max(1, length) * 8));
}
