/**
 * The 16-bit float encodings, in one place: IEEE binary16 (float16) and bfloat16 (the top half of a
 * float32), between bit patterns and numbers. Decoding is exact; encoding takes a value already
 * representable in the format (round it with formats.ts first).
 */

/** The number an IEEE binary16 bit pattern holds. */
export function float16FromBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The IEEE binary16 bit pattern of a value exactly representable in float16 (NaN: the quiet NaN 0x7e00). */
export function float16ToBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude === Infinity) return sign | 0x7c00;
  if (magnitude < 2 ** -14) return sign | Math.round(magnitude / 2 ** -24);
  const exponent = Math.floor(Math.log2(magnitude));
  // log2 can be off by one next to powers of two; correct it exactly.
  const e = magnitude >= 2 ** (exponent + 1) ? exponent + 1 : magnitude < 2 ** exponent ? exponent - 1 : exponent;
  const mantissa = Math.round((magnitude / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mantissa;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** The number a bfloat16 bit pattern holds (the high 16 bits of a float32). */
export function bfloat16FromBits(bits: number): number {
  scratchBits[0] = (bits & 0xffff) << 16;
  return scratch[0];
}

/** The bfloat16 bit pattern of a value exactly representable in bfloat16. */
export function bfloat16ToBits(value: number): number {
  scratch[0] = value;
  return scratchBits[0] >>> 16;
}
