/**
 * Reads the one integer of a small .npy array (a counter such as `num_batches_tracked`). Float
 * data goes through read-npy.ts; integers are no BatchNorm data and are read only where a count
 * is meant.
 */
import { InputFileError } from "../../core/errors.js";
import { elementCount } from "../../core/tensor.js";
import { parseNpyHeader } from "./header.js";
import { decodeCount } from "../../core/integers.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** @throws InputFileError naming `name` when the bytes are not a one-element integer .npy. */
export function npyScalarInteger(bytes: Uint8Array, name: string): number {
  const fail = (problem: string): never => {
    throw new InputFileError(name, problem);
  };
  if (bytes.length < 12 || MAGIC.some((value, i) => bytes[i] !== value)) fail("is not a .npy array");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerStart = major === 1 ? 10 : 12;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (headerStart + headerLength > bytes.length) fail("has a header longer than the array");
  let header: ReturnType<typeof parseNpyHeader>;
  try {
    header = parseNpyHeader(new TextDecoder("latin1").decode(bytes.subarray(headerStart, headerStart + headerLength)));
  } catch (error) {
    return fail((error as Error).message);
  }
  const match = /^([<>|=]?)([iu])([1248])$/.exec(header.descr);
  if (match === null) return fail(`is an array of '${header.descr}': an integer is expected here`);
  if (elementCount(header.shape) !== 1)
    fail(`holds ${elementCount(header.shape)} values: one integer is expected here`);
  const width = Number(match[3]);
  const offset = headerStart + headerLength;
  if (offset + width !== bytes.length)
    fail(`holds ${bytes.length - offset} data bytes: a ${width}-byte integer is expected`);
  return decodeCount(
    bytes,
    offset,
    { width: width as 1 | 2 | 4 | 8, signed: match[2] === "i", littleEndian: match[1] !== ">" },
    name,
  );
}
