/**
 * The only module that reads .npy files. It parses with npyjs and validates what npyjs leaves
 * unchecked: the magic string and version, the header grammar (parsed as data), the dtype (float16,
 * float32 or float64 only), the data length against the shape (a truncated or padded file is an
 * error, never a short array), big-endian data (converted) and Fortran order (reordered so that the
 * tensor holds the logical array numpy shows).
 *
 * Reference: numpy/lib/format.py; aplbrain/npyjs src/index.ts (what it does not check).
 */
import npyjs from "npyjs";
import { InputFileError } from "../errors.js";
import { parseNpyHeader, type NpyHeader } from "./header.js";
import { allocateShared, elementCount, type FloatArray, type FloatDType, type Tensor } from "./tensor.js";
import { encodeNpyHeader } from "./write-npy.js";
import { readFileBytes } from "../io/read-file.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const npy = new npyjs({ convertFloat16: true });

/** What a dtype string such as `<f4` means, or why bn-check cannot use it. */
interface DescrInfo {
  readonly dtype: FloatDType;
  readonly itemSize: number;
  readonly bigEndian: boolean;
}

const KIND_NAMES: Record<string, string> = {
  b: "boolean",
  "?": "boolean",
  i: "integer",
  u: "unsigned integer",
  c: "complex",
  U: "unicode string",
  S: "byte string",
  a: "byte string",
  O: "Python object",
  V: "void/structured",
  M: "datetime",
  m: "timedelta",
};

function interpretDescr(descr: string): DescrInfo | string {
  const match = /^([<>=|]?)([a-zA-Z?])(\d*)$/.exec(descr);
  if (match === null) return `dtype '${descr}' is not a dtype string numpy writes`;
  const [, order, kind, sizeText] = match;
  if (kind !== "f") {
    const name = KIND_NAMES[kind] ?? "non-float";
    return `${name} dtype '${descr}' is not supported: bn-check checks float16, float32 and float64 tensors`;
  }
  const itemSize = Number(sizeText);
  const dtype = ({ 2: "float16", 4: "float32", 8: "float64" } as Record<number, FloatDType>)[itemSize];
  if (dtype === undefined) {
    return `float dtype '${descr}' (${itemSize * 8}-bit) is not supported: bn-check checks float16, float32 and float64 tensors`;
  }
  // '=' is native order; every platform Node runs on is little-endian.
  return { dtype, itemSize, bigEndian: order === ">" };
}

/**
 * Reads a .npy file into a tensor whose data lives in a SharedArrayBuffer.
 * @param path - the file to read; every error message starts with it.
 * @returns the logical array in C order and native byte order.
 * @throws InputFileError for a missing, unreadable or non-regular file and for any invalid content.
 */
export function readNpy(path: string): Tensor {
  const bytes = readFileBytes(path);
  return parseNpyBytes(bytes, path);
}

/**
 * Parses the bytes of a .npy file. Exposed for tests and for readers of other containers.
 * @param name - how to name the source in error messages (usually the path).
 */
export function parseNpyBytes(bytes: Uint8Array, name: string): Tensor {
  const fail = (problem: string): never => {
    throw new InputFileError(name, problem);
  };
  if (bytes.length < 10 || MAGIC.some((value, i) => bytes[i] !== value)) fail("is not a .npy file (the magic string \\x93NUMPY is missing)");
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) fail(`has unknown .npy format version ${major}.${minor} (known: 1.0, 2.0, 3.0)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthFieldSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthFieldSize) fail("is truncated inside the header length field");
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lengthFieldSize;
  const dataOffset = headerStart + headerLength;
  if (dataOffset > bytes.length) fail(`header claims ${headerLength} bytes but the file has only ${bytes.length - headerStart} after the length field`);
  const headerBytes = bytes.subarray(headerStart, dataOffset);
  const headerText = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(headerBytes);

  let header: NpyHeader;
  try {
    header = parseNpyHeader(headerText);
  } catch (error) {
    return fail((error as Error).message);
  }
  const descr = interpretDescr(header.descr);
  if (typeof descr === "string") return fail(descr);

  const count = elementCount(header.shape);
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(count * descr.itemSize)) {
    fail(`shape (${header.shape.join(", ")}) has more elements than can be addressed`);
  }
  const dataBytes = count * descr.itemSize;
  const available = bytes.length - dataOffset;
  if (available < dataBytes) {
    fail(`data is truncated: shape (${header.shape.join(", ")}) of ${descr.dtype} needs ${dataBytes} bytes, the file has ${available}`);
  }
  if (available > dataBytes) {
    fail(`has ${available - dataBytes} trailing bytes after the data of shape (${header.shape.join(", ")}) ${descr.dtype}`);
  }

  const fileOrder = decodeWithNpyjs(bytes, dataOffset, dataBytes, count, descr, name);
  const data = allocateShared(descr.dtype, count);
  if (header.fortranOrder && header.shape.length > 1) copyFortranToC(fileOrder, data, header.shape);
  else data.set(fileOrder);
  return { dtype: descr.dtype, shape: header.shape, data };
}

/**
 * Hands npyjs an exact little-endian .npy buffer. Data in the file is used as it stands when it is
 * little-endian and aligned for its typed array; otherwise it is byte-swapped or realigned under a
 * fresh header first, because npyjs would misread or reject it.
 */
function decodeWithNpyjs(bytes: Uint8Array, dataOffset: number, dataBytes: number, count: number, descr: DescrInfo, name: string): FloatArray {
  let buffer: ArrayBuffer;
  const aligned = dataOffset % descr.itemSize === 0;
  if (!descr.bigEndian && aligned) {
    buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + dataOffset + dataBytes) as ArrayBuffer;
  } else {
    const header = encodeNpyHeader(descr.dtype, [count]);
    const canonical = new Uint8Array(header.length + dataBytes);
    canonical.set(header, 0);
    canonical.set(bytes.subarray(dataOffset, dataOffset + dataBytes), header.length);
    if (descr.bigEndian) swapBytes(canonical.subarray(header.length), descr.itemSize);
    buffer = canonical.buffer;
  }
  let parsed;
  try {
    parsed = npy.parse(buffer);
  } catch (error) {
    throw new InputFileError(name, `could not be decoded (${(error as Error).message})`, { cause: error });
  }
  const values = parsed.data;
  if (!(values instanceof Float32Array || values instanceof Float64Array) || values.length !== count) {
    throw new InputFileError(name, `decoded to ${(values as unknown as ArrayLike<number>).length} values where the shape needs ${count}`);
  }
  return values;
}

function swapBytes(data: Uint8Array, itemSize: number): void {
  for (let offset = 0; offset < data.length; offset += itemSize) {
    for (let low = offset, high = offset + itemSize - 1; low < high; low++, high--) {
      const byte = data[low];
      data[low] = data[high];
      data[high] = byte;
    }
  }
}

/**
 * Reorders Fortran-order (column-major) data to C order. The C-order index runs as an odometer
 * while the matching Fortran offset is updated incrementally (no per-element division).
 */
function copyFortranToC(source: FloatArray, target: FloatArray, shape: readonly number[]): void {
  const rank = shape.length;
  const fortranStrides = new Array<number>(rank);
  let stride = 1;
  for (let axis = 0; axis < rank; axis++) {
    fortranStrides[axis] = stride;
    stride *= shape[axis];
  }
  const counter = new Array<number>(rank).fill(0);
  let sourceOffset = 0;
  for (let targetOffset = 0; targetOffset < target.length; targetOffset++) {
    target[targetOffset] = source[sourceOffset];
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]++;
      sourceOffset += fortranStrides[axis];
      if (counter[axis] < shape[axis]) break;
      sourceOffset -= fortranStrides[axis] * shape[axis];
      counter[axis] = 0;
    }
  }
}
