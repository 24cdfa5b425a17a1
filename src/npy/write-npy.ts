/**
 * Writes .npy files in format version 1.0, little-endian, C order, with the header padded with
 * spaces and a newline so that the data starts on a 64-byte boundary, as numpy does.
 *
 * Reference: numpy/lib/format.py (`_write_array_header`, ARRAY_ALIGN = 64).
 */
import { writeFileSync } from "node:fs";
import { roundToFloat16 } from "../numeric/formats.js";
import type { FloatDType, Tensor } from "./tensor.js";

const DESCR: Record<FloatDType, string> = { float16: "<f2", float32: "<f4", float64: "<f8" };
const ITEM_SIZE: Record<FloatDType, number> = { float16: 2, float32: 4, float64: 8 };
const ARRAY_ALIGN = 64;

/** The magic, version, length field and padded header for an array of this dtype and shape. */
export function encodeNpyHeader(dtype: FloatDType, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  const padding = (ARRAY_ALIGN - (unpadded % ARRAY_ALIGN)) % ARRAY_ALIGN;
  const text = dict + " ".repeat(padding) + "\n";
  if (text.length > 0xffff) throw new RangeError(`shape [${shape.join(", ")}] needs a header too long for .npy version 1.0`);
  const header = new Uint8Array(10 + text.length);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(header.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) header[10 + i] = text.charCodeAt(i);
  return header;
}

/** Encodes a tensor as the bytes of a .npy file (values are rounded to the tensor's dtype). */
export function encodeNpy(tensor: Tensor): Uint8Array {
  const header = encodeNpyHeader(tensor.dtype, tensor.shape);
  const count = tensor.data.length;
  const bytes = new Uint8Array(header.length + count * ITEM_SIZE[tensor.dtype]);
  bytes.set(header, 0);
  const view = new DataView(bytes.buffer, header.length);
  const values = tensor.data;
  if (tensor.dtype === "float64") for (let i = 0; i < count; i++) view.setFloat64(i * 8, values[i], true);
  else if (tensor.dtype === "float32") for (let i = 0; i < count; i++) view.setFloat32(i * 4, values[i], true);
  else for (let i = 0; i < count; i++) view.setUint16(i * 2, float16Bits(roundToFloat16(values[i])), true);
  return bytes;
}

/** Writes a tensor to a .npy file (no atomic rename here: callers that need it write to a temp path). */
export function writeNpy(path: string, tensor: Tensor): void {
  writeFileSync(path, encodeNpy(tensor));
}

/** IEEE binary16 bit pattern of a value that is already exactly representable in float16. */
function float16Bits(value: number): number {
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
