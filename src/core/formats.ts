/**
 * Rounding to, and distances within, the binary floating-point formats a reference can be computed
 * in. float16 and bfloat16 have no native JS type: values are rounded from float64 directly (one
 * rounding, ties to even), never through float32, which would round twice.
 *
 * Reference: IEEE 754-2019 binary16; Google Brain bfloat16 (float32 with a 7-bit stored mantissa).
 */
import type { ComputeDType } from "./dtypes.js";
import { bfloat16ToBits, float16ToBits } from "./float16.js";

interface NarrowFormat {
  readonly mantissaBits: number;
  readonly minNormalExponent: number;
  readonly maxFinite: number;
}

const FLOAT16: NarrowFormat = { mantissaBits: 10, minNormalExponent: -14, maxFinite: 65504 };
const BFLOAT16: NarrowFormat = { mantissaBits: 7, minNormalExponent: -126, maxFinite: (2 - 2 ** -7) * 2 ** 127 };

/** floor(log2(a)) for a finite a > 0, exact (Math.log2 may be off by one next to powers of two). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

function roundToNarrow(x: number, format: NarrowFormat): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const magnitude = Math.abs(x);
  const exponent = Math.max(exponentOf(magnitude), format.minNormalExponent);
  const quantum = 2 ** (exponent - format.mantissaBits);
  const scaled = magnitude / quantum; // exact: division by a power of two
  let rounded = Math.round(scaled);
  if (rounded - scaled === 0.5 && rounded % 2 !== 0) rounded -= 1; // ties to even
  let result = rounded * quantum;
  if (result > format.maxFinite) result = Infinity;
  return x < 0 ? -result : result;
}

/** Rounds a double to the nearest float16 (ties to even; overflow to ±Infinity). */
export function roundToFloat16(x: number): number {
  return roundToNarrow(x, FLOAT16);
}

/** Rounds a double to the nearest bfloat16 (ties to even; overflow to ±Infinity). */
export function roundToBFloat16(x: number): number {
  return roundToNarrow(x, BFLOAT16);
}

/** Rounds a double to the given format. */
export function roundTo(dtype: ComputeDType, x: number): number {
  switch (dtype) {
    case "float64":
      return x;
    case "float32":
      return Math.fround(x);
    case "float16":
      return roundToFloat16(x);
    case "bfloat16":
      return roundToBFloat16(x);
  }
}

const scratch32 = new Float32Array(1);
const bits32 = new Int32Array(scratch32.buffer);
const scratch64 = new Float64Array(1);
const words64 = new Uint32Array(scratch64.buffer);

/** Sign-magnitude position of a float32 value on the float32 number line (+0 and -0 both 0). */
function ordinalFloat32(value: number): number {
  scratch32[0] = value;
  const bits = bits32[0];
  return bits < 0 ? -(bits & 0x7fffffff) : bits;
}

/** Sign-magnitude position of a (representable) value on a 16-bit format's number line. */
function ordinal16(bits: number): number {
  const magnitude = bits & 0x7fff;
  return bits & 0x8000 ? -magnitude : magnitude;
}

function ordinalFloat16(value: number): number {
  return ordinal16(float16ToBits(value));
}

function ordinalBFloat16(value: number): number {
  return ordinal16(bfloat16ToBits(value));
}

/**
 * Distance in units in the last place between two values after both are rounded to `dtype`:
 * how many representable values lie between them (0 when equal, 1 for neighbours). Both must be
 * finite or equal; callers count non-finite disagreements separately.
 */
export function ulpDistance(dtype: ComputeDType, a: number, b: number): number {
  const x = roundTo(dtype, a);
  const y = roundTo(dtype, b);
  if (x === y) return 0;
  switch (dtype) {
    case "float32":
      return Math.abs(ordinalFloat32(x) - ordinalFloat32(y));
    case "float16":
      return Math.abs(ordinalFloat16(x) - ordinalFloat16(y));
    case "bfloat16":
      return Math.abs(ordinalBFloat16(x) - ordinalBFloat16(y));
    case "float64":
      return ulpDistanceFloat64(x, y);
  }
}

/** float64 distance from the two 32-bit words, exact while it is below 2^53. */
function ulpDistanceFloat64(x: number, y: number): number {
  scratch64[0] = Math.abs(x);
  const xHigh = words64[1];
  const xLow = words64[0];
  scratch64[0] = Math.abs(y);
  const yHigh = words64[1];
  const yLow = words64[0];
  const sameSign = x < 0 === y < 0 || x === 0 || y === 0;
  if (sameSign) return Math.abs((xHigh - yHigh) * 2 ** 32 + (xLow - yLow));
  return xHigh * 2 ** 32 + xLow + (yHigh * 2 ** 32 + yLow);
}
