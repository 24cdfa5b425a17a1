/**
 * Writes .npy files in format version 1.0, little-endian, C order, with the header padded with
 * spaces and a newline so that the data starts on a 64-byte boundary, as numpy does.
 *
 * Reference: numpy/lib/format.py (`_write_array_header`, ARRAY_ALIGN = 64).
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { roundToFloat16 } from "../../core/formats.js";
import type { FloatDType, Tensor } from "../../core/tensor.js";
import { float16ToBits } from "../../core/float16.js";

const DESCR: Record<FloatDType, string> = { float16: "<f2", float32: "<f4", float64: "<f8" };
const ITEM_SIZE: Record<FloatDType, number> = { float16: 2, float32: 4, float64: 8 };
const ARRAY_ALIGN = 64;

/** The magic, version, length field and padded header for an array of this dtype and shape. */
export function encodeNpyHeader(dtype: FloatDType, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  const padding = (ARRAY_ALIGN - (unpadded % ARRAY_ALIGN)) % ARRAY_ALIGN;
  const text = `${dict + " ".repeat(padding)}\n`;
  if (text.length > 0xffff)
    throw new RangeError(`shape [${shape.join(", ")}] needs a header too long for .npy version 1.0`);
  const header = new Uint8Array(10 + text.length);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(header.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) header[10 + i] = text.charCodeAt(i);
  return header;
}

const CHUNK_ELEMENTS = 1 << 24;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The bytes of a .npy file as a sequence of chunks (the header, then the data in pieces of at most
 * 16 Mi elements), so that tensors of any size are written without one huge buffer. Values are
 * rounded to the tensor's dtype; float32/float64 data already in that type is passed as it is.
 */
export function* npyChunks(tensor: Tensor): Generator<Uint8Array> {
  yield encodeNpyHeader(tensor.dtype, tensor.shape);
  const values = tensor.data;
  const itemSize = ITEM_SIZE[tensor.dtype];
  for (let start = 0; start < values.length; start += CHUNK_ELEMENTS) {
    const end = Math.min(values.length, start + CHUNK_ELEMENTS);
    const native =
      (tensor.dtype === "float32" && values instanceof Float32Array) ||
      (tensor.dtype === "float64" && values instanceof Float64Array);
    if (native && LITTLE_ENDIAN) {
      yield new Uint8Array(values.buffer, values.byteOffset + start * itemSize, (end - start) * itemSize);
      continue;
    }
    const bytes = new Uint8Array((end - start) * itemSize);
    const view = new DataView(bytes.buffer);
    for (let i = start; i < end; i++) {
      const at = (i - start) * itemSize;
      if (tensor.dtype === "float64") view.setFloat64(at, values[i], true);
      else if (tensor.dtype === "float32") view.setFloat32(at, values[i], true);
      else view.setUint16(at, float16ToBits(roundToFloat16(values[i])), true);
    }
    yield bytes;
  }
}

/** Encodes a tensor as the bytes of a .npy file, in one buffer (for small tensors and tests). */
export function encodeNpy(tensor: Tensor): Uint8Array {
  const chunks = [...npyChunks(tensor)];
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** Writes a tensor to a .npy file (not atomic: `run` uses `writeFileAtomic` with `npyChunks`). */
export function writeNpy(path: string, tensor: Tensor): void {
  const fd = openSync(path, "w");
  try {
    for (const chunk of npyChunks(tensor)) {
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
    }
  } finally {
    closeSync(fd);
  }
}
