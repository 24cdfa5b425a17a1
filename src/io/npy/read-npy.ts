/**
 * The only module that reads .npy files. It parses with npyjs and validates what npyjs leaves
 * unchecked: the magic string and version, the header grammar (parsed as data), the dtype (float16,
 * float32 or float64 only), the data length against the shape (a truncated or padded file is an
 * error, never a short array), big-endian data (converted) and Fortran order (reordered so that the
 * tensor holds the logical array numpy shows).
 *
 * Reference: numpy/lib/format.py; aplbrain/npyjs src/index.ts (what it does not check).
 */
import { closeSync } from "node:fs";
import npyjs from "npyjs";
import { InputFileError } from "../../core/errors.js";
import type { FileRange } from "../../core/file-copy.js";
import { parseNpyHeader, type NpyHeader } from "./header.js";
import {
  allocateForRead,
  allocateShared,
  elementCount,
  gatherStrided,
  type FloatArray,
  type FloatDType,
  type Tensor,
} from "../../core/tensor.js";
import { encodeNpyHeader } from "./write-npy.js";
import { asInputFileError, fileSizeOf, openRegularFile, readFully, readFullyAsync } from "../read-file.js";

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
    return (
      `float dtype '${descr}' (${itemSize * 8}-bit) is not supported: ` +
      `bn-check checks float16, float32 and float64 tensors`
    );
  }
  // '=' is native order; every platform Node runs on is little-endian.
  return { dtype, itemSize, bigEndian: order === ">" };
}

/** What the preamble (magic, version, header) of a .npy file says, checked against the file size. */
export interface NpyLayout {
  readonly header: NpyHeader;
  readonly descr: DescrInfo;
  readonly dataOffset: number;
  readonly count: number;
  readonly dataBytes: number;
}

/**
 * Validates the preamble and the data length without touching the data, so that a header that
 * promises more than the file holds is refused before anything is allocated.
 * @param preamble - the first bytes of the file (at least the whole header, when the file has it)
 * @param fileSize - the size of the whole file
 */
function parsePreamble(preamble: Uint8Array, fileSize: number, name: string): NpyLayout {
  const fail = (problem: string): never => {
    throw new InputFileError(name, problem);
  };
  if (fileSize < 10 || preamble.length < 10 || MAGIC.some((value, i) => preamble[i] !== value))
    fail("is not a .npy file (the magic string \\x93NUMPY is missing)");
  const major = preamble[6];
  const minor = preamble[7];
  if (![1, 2, 3].includes(major) || minor !== 0)
    fail(`has unknown .npy format version ${major}.${minor} (known: 1.0, 2.0, 3.0)`);
  const view = new DataView(preamble.buffer, preamble.byteOffset, preamble.byteLength);
  const lengthFieldSize = major === 1 ? 2 : 4;
  if (fileSize < 8 + lengthFieldSize || preamble.length < 8 + lengthFieldSize)
    fail("is truncated inside the header length field");
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lengthFieldSize;
  const dataOffset = headerStart + headerLength;
  if (dataOffset > fileSize || dataOffset > preamble.length)
    fail(`header claims ${headerLength} bytes but the file has only ${fileSize - headerStart} after the length field`);
  const headerText = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    preamble.subarray(headerStart, dataOffset),
  );

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
  const available = fileSize - dataOffset;
  if (available < dataBytes) {
    fail(
      `data is truncated: shape (${header.shape.join(", ")}) of ` +
        `${descr.dtype} needs ${dataBytes} bytes, the file has ${available}`,
    );
  }
  if (available > dataBytes) {
    fail(
      `has ${available - dataBytes} trailing bytes after the data of shape (${header.shape.join(", ")}) ${descr.dtype}`,
    );
  }
  return { header, descr, dataOffset, count, dataBytes };
}

/** Largest single read: far below Node's per-call limits, large enough to run at disk speed. */
const READ_CHUNK_BYTES = 1 << 26;

/**
 * Reads a .npy file into a tensor whose data lives in a SharedArrayBuffer.
 * Little-endian C-order float32/float64 data (what numpy writes) is read in chunks straight into
 * shared memory: no intermediate copy, and no single Buffer over Node's limits, whatever the size.
 * Other layouts (big-endian, Fortran order, float16) go through npyjs on the whole file.
 * @param path - the file to read; every error message starts with it.
 * @returns the logical array in C order and native byte order.
 * @throws InputFileError for a missing, unreadable or non-regular file and for any invalid content.
 */
export function readNpy(path: string): Tensor {
  const read = startNpyRead(path);
  read.finish();
  return read.tensor;
}

/**
 * `readNpy` whose bulk data is read on a libuv thread: the header is read and checked at once (the
 * same errors, thrown as rejections), then the data while the caller does something else, such as
 * reading another file.
 */
export async function readNpyAsync(path: string): Promise<Tensor> {
  const read = startNpyRead(path);
  await read.finishAsync();
  return read.tensor;
}

/** A .npy read whose header is parsed and checked and whose tensor is allocated; `finish` fills it. */
export interface NpyRead {
  readonly tensor: Tensor;
  /**
   * The file range the tensor's data is, and where it goes, when it is still to be read (read by
   * whoever fills it, then `close`); undefined when the data is read already.
   */
  readonly range?: FileRange;
  /** Reads the data (if any is left to read) and closes the file. */
  finish(): void;
  finishAsync(): Promise<void>;
  /** Closes the file without reading (after someone else filled `range`). */
  close(): void;
}

/**
 * Opens a .npy file, reads and checks its header and allocates its tensor; the data is read by
 * `finish`, `finishAsync`, or by the caller through `range` (then `close`).
 * @throws InputFileError naming the path, for any problem of the file or its header.
 */
export function startNpyRead(path: string): NpyRead {
  const fd = openRegularFile(path);
  let handedOver = false;
  try {
    const size = fileSizeOf(fd, path);
    const prefix = new Uint8Array(Math.min(size, 12));
    readFully(fd, prefix, 0, path);
    const headerEnd =
      prefix.length >= 10
        ? 8 +
          (prefix[6] === 1 ? 2 : 4) +
          (prefix[6] === 1 ? prefix[8] | (prefix[9] << 8) : new DataView(prefix.buffer).getUint32(8, true))
        : prefix.length;
    const preamble = new Uint8Array(Math.min(size, Math.max(prefix.length, headerEnd)));
    readFully(fd, preamble, 0, path);
    const layout = parsePreamble(preamble, size, path);
    const direct =
      !layout.descr.bigEndian &&
      layout.descr.dtype !== "float16" &&
      !(layout.header.fortranOrder && layout.header.shape.length > 1);
    if (!direct) {
      const bytes = new Uint8Array(size);
      readFully(fd, bytes, 0, path);
      const tensor = parseNpyBytes(bytes, path);
      return { tensor, finish: () => undefined, finishAsync: async () => undefined, close: () => undefined };
    }
    crossCheckWithNpyjs(preamble.subarray(0, layout.dataOffset), layout, path);
    const data = allocateForRead(layout.descr.dtype, layout.count);
    const target = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const chunk = (offset: number) => target.subarray(offset, Math.min(target.length, offset + READ_CHUNK_BYTES));
    handedOver = true;
    return {
      tensor: { dtype: layout.descr.dtype, shape: layout.header.shape, data },
      range: { fd, position: layout.dataOffset, target },
      close: () => closeSync(fd),
      finish: () => {
        try {
          for (let offset = 0; offset < target.length; offset += READ_CHUNK_BYTES)
            readFully(fd, chunk(offset), layout.dataOffset + offset, path);
        } catch (error) {
          throw asInputFileError(error, path);
        } finally {
          closeSync(fd);
        }
      },
      finishAsync: async () => {
        try {
          for (let offset = 0; offset < target.length; offset += READ_CHUNK_BYTES)
            await readFullyAsync(fd, chunk(offset), layout.dataOffset + offset, path);
        } catch (error) {
          throw asInputFileError(error, path);
        } finally {
          closeSync(fd);
        }
      },
    };
  } catch (error) {
    throw asInputFileError(error, path);
  } finally {
    if (!handedOver) closeSync(fd);
  }
}

/** npyjs parses the header too (with no data): it must read the same dtype and shape as bn-check. */
function crossCheckWithNpyjs(headerBytes: Uint8Array, layout: NpyLayout, name: string): void {
  if (layout.dataOffset % layout.descr.itemSize !== 0) return; // npyjs cannot view unaligned data
  const parsed = npy.parse(headerBytes.slice().buffer);
  if (parsed.shape.join() !== layout.header.shape.join() || parsed.fortranOrder !== layout.header.fortranOrder) {
    throw new InputFileError(
      name,
      `header is read differently by npyjs (shape [${parsed.shape.join(", ")}]) ` +
        `and bn-check (shape [${layout.header.shape.join(", ")}])`,
    );
  }
}

/**
 * Parses the bytes of a .npy file. Exposed for tests and for readers of other containers.
 * @param name - how to name the source in error messages (usually the path).
 */
export function parseNpyBytes(bytes: Uint8Array, name: string): Tensor {
  const { header, descr, dataOffset, count, dataBytes } = parsePreamble(bytes, bytes.length, name);
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
function decodeWithNpyjs(
  bytes: Uint8Array,
  dataOffset: number,
  dataBytes: number,
  count: number,
  descr: DescrInfo,
  name: string,
): FloatArray {
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
  let parsed: ReturnType<typeof npy.parse>;
  try {
    parsed = npy.parse(buffer);
  } catch (error) {
    throw new InputFileError(name, `could not be decoded (${(error as Error).message})`, { cause: error });
  }
  const values = parsed.data;
  if (!(values instanceof Float32Array || values instanceof Float64Array) || values.length !== count) {
    throw new InputFileError(
      name,
      `decoded to ${(values as unknown as ArrayLike<number>).length} values where the shape needs ${count}`,
    );
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
 * Reorders Fortran-order (column-major) data to C order: a strided gather with column-major strides.
 */
function copyFortranToC(source: FloatArray, target: FloatArray, shape: readonly number[]): void {
  const rank = shape.length;
  const fortranStrides = new Array<number>(rank);
  let stride = 1;
  for (let axis = 0; axis < rank; axis++) {
    fortranStrides[axis] = stride;
    stride *= shape[axis];
  }
  gatherStrided(source, target, shape, fortranStrides);
}

/** Bytes of a .npy preamble (magic, version, header length and header) given its first 12 bytes, or null with fewer. */
export function npyPreambleLength(prefix: Uint8Array): number | null {
  if (prefix.length < 12) return null;
  const major = prefix[6];
  return major === 1
    ? 10 + (prefix[8] | (prefix[9] << 8))
    : 12 + new DataView(prefix.buffer, prefix.byteOffset, 12).getUint32(8, true);
}

/**
 * The layout a .npy preamble describes (dtype, shape, order, data size), checked as `readNpy` checks
 * it, for readers of other containers that see the bytes before they hold them all (.npz members).
 * @param size - the size of the whole .npy member.
 */
export function npyLayoutOf(
  preamble: Uint8Array,
  size: number,
  name: string,
): NpyLayout & { readonly direct: boolean } {
  const layout = parsePreamble(preamble, size, name);
  const direct =
    !layout.descr.bigEndian &&
    layout.descr.dtype !== "float16" &&
    !(layout.header.fortranOrder && layout.header.shape.length > 1);
  if (direct) crossCheckWithNpyjs(preamble.subarray(0, layout.dataOffset), layout, name);
  return { ...layout, direct };
}
