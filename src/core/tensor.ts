import { allocateInAmbientArena } from "./arena.js";

import type { ComputeDType, FloatDType } from "./dtypes.js";

export { COMPUTE_DTYPES, FLOAT_DTYPES, type ComputeDType, type FloatDType } from "./dtypes.js";

/** Storage for a float tensor's values. float16 values are held exactly in a Float32Array. */
export type FloatArray = Float32Array | Float64Array;

/**
 * A dense tensor in C (row-major) order. `dtype` is the dtype of the file it came from (or is to be
 * written as); `data` holds the logical values, already converted to native byte order and C order.
 */
export interface Tensor {
  readonly dtype: FloatDType;
  readonly shape: readonly number[];
  readonly data: FloatArray;
  /** The precision the values were computed in when the storage is an upcast (bfloat16 in float32). */
  readonly precision?: ComputeDType;
}

/** Where a tensor's values lie in a file: little-endian, C order, `dtype` (float32 or float64). */
export interface TensorFileSource {
  readonly path: string;
  /** Byte offset of the first value in the file. */
  readonly position: number;
  readonly dtype: "float32" | "float64";
}

/**
 * A tensor whose values stay in their file until something reads `data` (which then reads them
 * all): a pass that needs each value once can stream them from `source` instead (the compare pass
 * does, parallel/stream.ts), and a report that needs a few reads them with `valueAt`.
 */
export interface DeferredTensor extends Tensor {
  readonly source: TensorFileSource;
  /** Whether `data` was read. */
  readonly loaded: boolean;
  /** The value at a C-order index, read from the file (or from `data` once it is loaded). */
  valueAt(index: number): number;
}

/**
 * A DeferredTensor over `source`: `load` reads every value (on the first access to `data`),
 * `readValue` one. `load` must not allocate in a tensor arena: a check may read `data` between an
 * arena's mark and its rewind, which would take the memory back under it.
 */
export function deferredTensor(
  dtype: "float32" | "float64",
  shape: readonly number[],
  source: TensorFileSource,
  load: () => FloatArray,
  readValue: (index: number) => number,
): DeferredTensor {
  let data: FloatArray | null = null;
  return {
    dtype,
    shape,
    source,
    get data() {
      data ??= load();
      return data;
    },
    get loaded() {
      return data !== null;
    },
    valueAt: (index) => (data === null ? readValue(index) : data[index]),
  };
}

/** The file a tensor's values are still in (a DeferredTensor not loaded yet), else null. */
export function unloadedSource(tensor: Tensor): DeferredTensor | null {
  const deferred = tensor as Partial<DeferredTensor>;
  return deferred.source !== undefined && deferred.loaded === false ? (tensor as DeferredTensor) : null;
}

/** Number of elements of a shape (1 for a scalar shape). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/** `[2, 3, 4]` → `"2x3x4"`, the way shapes are printed in every report. */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 0 ? "scalar" : shape.join("x");
}

/** Flat C-order index → N-d index, for reports. */
export function unravelIndex(flatIndex: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  let rest = flatIndex;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const dim = shape[axis];
    index[axis] = dim === 0 ? 0 : rest % dim;
    rest = dim === 0 ? 0 : Math.floor(rest / dim);
  }
  return index;
}

/**
 * Fills `target` (C order over `shape`) from `source` read with per-axis `strides`: a transpose or
 * an order change in one pass. The source offset follows the C-order index as an odometer, updated
 * incrementally (no per-element division).
 */
export function gatherStrided(
  source: ArrayLike<number>,
  target: FloatArray,
  shape: readonly number[],
  strides: readonly number[],
): void {
  const rank = shape.length;
  const counter = new Array<number>(rank).fill(0);
  let sourceOffset = 0;
  for (let targetOffset = 0; targetOffset < target.length; targetOffset++) {
    target[targetOffset] = source[sourceOffset];
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]++;
      sourceOffset += strides[axis];
      if (counter[axis] < shape[axis]) break;
      sourceOffset -= strides[axis] * shape[axis];
      counter[axis] = 0;
    }
  }
}

/**
 * Allocates a Float32Array or Float64Array over shared memory, so workers see it without copies: in
 * the operation's tensor arena when there is one (where the SIMD kernel can work on it), else over
 * a SharedArrayBuffer of its own.
 */
export function allocateShared(dtype: FloatDType, length: number): FloatArray {
  return allocate(dtype, length, true);
}

/**
 * `allocateShared` for a reader that fills every element (from a file): memory an earlier case of
 * the same arena released is not zeroed first (on a model's 34 layers the zeroing was a tenth of the run).
 */
export function allocateForRead(dtype: FloatDType, length: number): FloatArray {
  return allocate(dtype, length, false);
}

function allocate(dtype: FloatDType, length: number, zeroed: boolean): FloatArray {
  const type = dtype === "float64" ? "f64" : "f32";
  const inArena = allocateInAmbientArena(type, length, zeroed);
  if (inArena !== null) return inArena;
  return type === "f64"
    ? new Float64Array(new SharedArrayBuffer(length * 8))
    : new Float32Array(new SharedArrayBuffer(length * 4));
}

/** Creates a tensor from plain numbers (library and test convenience). Data is shared memory. */
export function tensorFromArray(
  values: ArrayLike<number>,
  shape: readonly number[],
  dtype: FloatDType = "float32",
): Tensor {
  const count = elementCount(shape);
  if (values.length !== count) {
    throw new RangeError(
      `tensorFromArray: ${values.length} values do not fill shape [${shape.join(", ")}] (${count} elements)`,
    );
  }
  const data = allocateShared(dtype, count);
  for (let i = 0; i < count; i++) data[i] = values[i];
  return { dtype, shape: [...shape], data };
}
