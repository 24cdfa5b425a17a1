/** References saved in another axis order than the input (channels-last of a channels-first output). */
import { allocateShared, gatherStrided, type Tensor } from "../../core/tensor.js";

/** Axis orders a reference may have been saved in by mistake: channels-last of a channels-first output and back. */
export function referenceOrders(rank: number): { name: string; perm: number[] }[] {
  const orders = [{ name: "", perm: Array.from({ length: rank }, (_, k) => k) }];
  if (rank >= 3) {
    const toLast = [0, ...Array.from({ length: rank - 2 }, (_, k) => k + 2), 1]; // NCHW output saved as NHWC
    const toFirst = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, k) => k + 1)]; // NHWC output saved as NCHW
    orders.push(
      { name: "saved in channels-last order (transposed from channels-first)", perm: toLast },
      { name: "saved in channels-first order (transposed from channels-last)", perm: toFirst },
    );
  }
  return orders;
}

/** The reference put back into the input's order, if it was saved as `perm` of it; null when shapes do not fit. */
export function unpermute(
  reference: Tensor,
  inputShape: readonly number[],
  perm: readonly number[],
): Float32Array | Float64Array | null {
  const stored = perm.map((axis) => inputShape[axis]);
  if (stored.join() !== reference.shape.join()) return null;
  const rank = inputShape.length;
  const storedStrides = new Array<number>(rank).fill(1);
  for (let k = rank - 2; k >= 0; k--) storedStrides[k] = storedStrides[k + 1] * stored[k + 1];
  // Stride, in the stored array, of each input axis.
  const strideOf = new Array<number>(rank);
  for (const [k, axis] of perm.entries()) strideOf[axis] = storedStrides[k];
  const out = allocateShared(reference.data instanceof Float64Array ? "float64" : "float32", reference.data.length);
  gatherStrided(reference.data, out, inputShape, strideOf);
  return out;
}
