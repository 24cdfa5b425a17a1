/**
 * Decodes one stored integer as a count (`num_batches_tracked`): every reader that accepts an
 * integer where a count is meant (safetensors, .npy/.npz, PyTorch .pt) decodes it here.
 */
import { InputFileError } from "./errors.js";

export interface IntegerLayout {
  readonly width: 1 | 2 | 4 | 8;
  readonly signed: boolean;
  readonly littleEndian: boolean;
}

/** @throws InputFileError naming `where` when the value is beyond 2^53 (no count is). */
export function decodeCount(bytes: Uint8Array, offset: number, layout: IntegerLayout, where: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { width, signed, littleEndian } = layout;
  let value: bigint;
  if (width === 8) value = signed ? view.getBigInt64(offset, littleEndian) : view.getBigUint64(offset, littleEndian);
  else if (width === 4)
    value = BigInt(signed ? view.getInt32(offset, littleEndian) : view.getUint32(offset, littleEndian));
  else if (width === 2)
    value = BigInt(signed ? view.getInt16(offset, littleEndian) : view.getUint16(offset, littleEndian));
  else value = BigInt(signed ? view.getInt8(offset) : view.getUint8(offset));
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER))
    throw new InputFileError(where, `holds ${value}: too large a count`);
  return Number(value);
}
