/** Per-channel affine constants of y, and the pass that writes y (see batch-norm.ts for the method). */
import { emptyBox, unitBox, type UnitGrid } from "./units.js";
import { C_OFFSET, C_SCALE, C_SHIFT } from "./abi.js";

type Values = Float32Array | Float64Array;

/**
 * Per-channel constants of y = (x − shift)·scale + offset, laid out as the first three consecutive
 * runs of length C in one Float64Array (so that one shared buffer carries them to the workers).
 */
export function affineConstants(
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  epsilon: number,
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  target: Float64Array,
): Float64Array {
  const channels = mean.length;
  for (let c = 0; c < channels; c++) {
    const gamma = weight === null ? 1 : weight[c];
    target[C_SHIFT * channels + c] = mean[c];
    target[C_SCALE * channels + c] = gamma / Math.sqrt(variance[c] + epsilon);
    target[C_OFFSET * channels + c] = bias === null ? 0 : bias[c];
  }
  return target;
}

/**
 * Writes y for units `[firstUnit, endUnit)` into `output` (rounded to its element type). The SIMD
 * kernel's twin (wasm-adapters.ts, `normalizeUnitsSimd`) computes y with the same operations.
 */
export function normalizeUnits(
  input: Values,
  grid: UnitGrid,
  constants: Float64Array,
  firstUnit: number,
  endUnit: number,
  output: Values,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    // Memory order (row, channel, inner): each element is independent, so the order changes nothing.
    if (inner === 1) {
      for (let o = box.o0; o < box.o1; o++) {
        const rowBase = o * channels;
        for (let c = box.c0; c < box.c1; c++)
          output[rowBase + c] =
            (input[rowBase + c] - constants[C_SHIFT * channels + c]) * constants[C_SCALE * channels + c] +
            constants[C_OFFSET * channels + c];
      }
      continue;
    }
    for (let o = box.o0; o < box.o1; o++) {
      for (let c = box.c0; c < box.c1; c++) {
        const shift = constants[C_SHIFT * channels + c];
        const scale = constants[C_SCALE * channels + c];
        const offset = constants[C_OFFSET * channels + c];
        const rowBase = (o * channels + c) * inner;
        for (let i = rowBase + box.i0, end = rowBase + box.i1; i < end; i++)
          output[i] = (input[i] - shift) * scale + offset;
      }
    }
  }
}
