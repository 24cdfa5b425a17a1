/**
 * Reads one tensor from a safetensors file: an 8-byte little-endian header length, a JSON header
 * (`{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {...} }`), then the raw
 * little-endian data, offsets relative to its start. Everything the header states is checked before
 * any tensor memory is allocated: the header's size, one entry per name (duplicate keys refused:
 * JSON.parse would keep the last silently), dtypes, shapes, offsets inside the data, in ascending
 * order and not overlapping, and each entry's byte count against its shape. Only the tensor asked
 * for is read. Format: https://github.com/huggingface/safetensors (README, "Format").
 */
import { InputFileError } from "../core/errors.js";
import { readFully, readFullyAsync, withOpenFile, withOpenFileAsync } from "./read-file.js";
import { bfloat16FromBits, float16FromBits } from "../core/float16.js";
import { decodeCount } from "../core/integers.js";
import { allocateForRead, allocateShared, type Tensor } from "../core/tensor.js";
import { type ArchiveFormat, checkedName, onlyTensorName, type TensorArchive } from "./archive.js";
import { jsonCostProblem, type JsonLimits } from "./json-costs.js";

/** The reference implementation refuses headers above 100 MB. */
const MAX_HEADER_BYTES = 100_000_000;
/**
 * What JSON.parse may build of the header (json-costs.ts): the header nests three levels (the
 * object, an entry, its shape), holds about eight values per tensor (a model of 250,000 tensors
 * fits) and names tensors in well under 4 KiB; `__metadata__` values are strings, which the scan
 * skips. A 100 MB header of ten million empty objects took 50 s and 2.7 GB to refuse.
 */
const HEADER_LIMITS: JsonLimits = {
  maxNesting: 8,
  maxValues: 2_000_000,
  maxKeyBytes: 4096,
  notWhat: "not a safetensors header",
};

const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = {
  F16: 2,
  BF16: 2,
  F32: 4,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

const FLOAT_DTYPES = ["F16", "BF16", "F32", "F64"];

interface Entry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/**
 * @param name - the tensor's key; optional when the file holds one tensor.
 * @throws InputFileError naming the file (and key) and what is wrong.
 */
export function readSafetensors(path: string, name?: string): Tensor {
  const archive = openSafetensors(path);
  return archive.read(name ?? onlyTensorName(archive));
}

/** The file's header, read and checked once; tensors are then read by name. */
export function openSafetensors(path: string): TensorArchive {
  const { entries, size } = withOpenFile(path, (fd, size) => ({ entries: readHeader(fd, size, path), size }));
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  const names = entries.map((entry) => entry.name);
  const entryOf = (name: string) => byName.get(name) ?? byName.get(checkedName(archive, name))!;
  const unchanged = (now: number) => {
    if (now !== size) throw new InputFileError(path, `changed while being read (${size} bytes, now ${now})`);
  };
  const readWith = <T>(name: string, use: (fd: number, entry: Entry & { dataStart: number }, where: string) => T): T =>
    withOpenFile(path, (fd, now) => {
      unchanged(now);
      return use(fd, entryOf(name), `${path}:${name}`);
    });
  const archive: TensorArchive = {
    path,
    names,
    read: (name) => readWith(name, readEntry),
    readAsync: async (name) => {
      const entry = entryOf(name);
      // F32/F64 land in the tensor as they are; F16/BF16 are decoded by `read`.
      if (!(entry.dtype === "F32" || entry.dtype === "F64") || !LITTLE_ENDIAN) return archive.read(name);
      return withOpenFileAsync(path, async (fd, now) => {
        unchanged(now);
        const dtype = entry.dtype === "F32" ? "float32" : "float64";
        const data = allocateForRead(dtype, (entry.end - entry.begin) / BYTES_PER_ELEMENT[entry.dtype]);
        await readFullyAsync(
          fd,
          new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
          entry.dataStart + entry.begin,
          `${path}:${name}`,
        );
        return { dtype, shape: [...entry.shape], data };
      });
    },
    readInteger: (name) => readWith(name, readIntegerEntry),
    byteLength: (name) => {
      const entry = byName.get(name);
      return entry === undefined ? undefined : entry.end - entry.begin;
    },
  };
  return archive;
}

export const safetensorsFormat: ArchiveFormat = {
  label: "safetensors",
  extensions: [".safetensors"],
  open: openSafetensors,
};

/** The header's entries, checked (see the module comment); `dataStart` is where the data begins. */
function readHeader(fd: number, size: number, path: string): (Entry & { dataStart: number })[] {
  if (size < 8) throw new InputFileError(path, `is ${size} bytes: too short for a safetensors header length`);
  const lengthBytes = new Uint8Array(8);
  readFully(fd, lengthBytes, 0, path);
  const headerLength = Number(new DataView(lengthBytes.buffer).getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES)
    throw new InputFileError(
      path,
      `states a ${headerLength}-byte header: more than the ${MAX_HEADER_BYTES} a safetensors header may have`,
    );
  if (8 + headerLength > size)
    throw new InputFileError(
      path,
      `states a ${headerLength}-byte header, but the file has ${size - 8} bytes after the length`,
    );
  const headerBytes = new Uint8Array(headerLength);
  readFully(fd, headerBytes, 8, path);
  const cost = jsonCostProblem(headerBytes, HEADER_LIMITS);
  if (cost !== null) throw new InputFileError(path, cost);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new InputFileError(path, "has a header that is not UTF-8: not a safetensors file");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw new InputFileError(
      path,
      `has a header that is not JSON (${(error as Error).message}): not a safetensors file`,
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header))
    throw new InputFileError(path, "has a header that is not a JSON object");
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== null) throw new InputFileError(path, `names the tensor '${duplicate}' twice in its header`);
  const dataStart = 8 + headerLength;
  const dataBytes = size - dataStart;
  const entries: (Entry & { dataStart: number })[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") continue;
    entries.push({ ...checkedEntry(name, value, dataBytes, path), dataStart });
  }
  // Ascending, not overlapping: sorted by begin, each starts at or after the previous end.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin);
  for (let k = 1; k < byOffset.length; k++) {
    if (byOffset[k].begin < byOffset[k - 1].end)
      throw new InputFileError(path, `has overlapping tensors '${byOffset[k - 1].name}' and '${byOffset[k].name}'`);
  }
  return entries;
}

function checkedEntry(name: string, value: unknown, dataBytes: number, path: string): Entry {
  const where = `${path}:${name}`;
  if (typeof value !== "object" || value === null)
    throw new InputFileError(where, "has a header entry that is not an object");
  const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== "string" || !(dtype in BYTES_PER_ELEMENT))
    throw new InputFileError(where, `has an unknown dtype ${JSON.stringify(dtype)?.slice(0, 40)}`);
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0))
    throw new InputFileError(where, "has a shape that is not a list of non-negative integers");
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new InputFileError(where, "has data_offsets that are not [begin, end] with 0 <= begin <= end");
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataBytes)
    throw new InputFileError(where, `ends at byte ${end} of the data, but the file holds ${dataBytes}`);
  let count = 1;
  for (const dim of shape as number[]) {
    count *= dim;
    if (!Number.isSafeInteger(count))
      throw new InputFileError(where, `has a shape [${shape.join(", ")}] too large to hold`);
  }
  const expected = count * BYTES_PER_ELEMENT[dtype];
  if (end - begin !== expected)
    throw new InputFileError(
      where,
      `holds ${end - begin} bytes, but shape [${shape.join(", ")}] of ${dtype} needs ${expected}`,
    );
  return { name, dtype, shape: shape as number[], begin, end };
}

function readEntry(fd: number, entry: Entry & { dataStart: number }, name: string): Tensor {
  if (!FLOAT_DTYPES.includes(entry.dtype))
    throw new InputFileError(name, `is a tensor of ${entry.dtype}: bn-check checks F16, BF16, F32 and F64 tensors`);
  const count = (entry.end - entry.begin) / BYTES_PER_ELEMENT[entry.dtype];
  const position = entry.dataStart + entry.begin;
  const shape = [...entry.shape];
  if (entry.dtype === "F32" || entry.dtype === "F64") {
    const dtype = entry.dtype === "F32" ? "float32" : "float64";
    const data = allocateForRead(dtype, count);
    readFully(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position, name);
    if (!LITTLE_ENDIAN) swapBytes(data);
    return { dtype, shape, data };
  }
  const bits = new Uint8Array(count * 2);
  readFully(fd, bits, position, name);
  const view = new DataView(bits.buffer);
  const data = allocateShared("float32", count);
  const decode = entry.dtype === "F16" ? float16FromBits : bfloat16FromBits;
  for (let i = 0; i < count; i++) data[i] = decode(view.getUint16(i * 2, true));
  return entry.dtype === "F16"
    ? { dtype: "float16", shape, data }
    : { dtype: "float32", shape, data, precision: "bfloat16" };
}

const INTEGER_DTYPES = ["I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8"];

/** A scalar (or one-element) integer tensor, as `num_batches_tracked` is. */
function readIntegerEntry(fd: number, entry: Entry & { dataStart: number }, name: string): number {
  const width = BYTES_PER_ELEMENT[entry.dtype];
  if (!INTEGER_DTYPES.includes(entry.dtype))
    throw new InputFileError(name, `is a tensor of ${entry.dtype}: an integer is expected here`);
  if (entry.end - entry.begin !== width)
    throw new InputFileError(name, `holds ${(entry.end - entry.begin) / width} integers: one is expected here`);
  const bytes = new Uint8Array(8);
  readFully(fd, bytes.subarray(0, width), entry.dataStart + entry.begin, name);
  return decodeCount(
    bytes,
    0,
    { width: width as 1 | 2 | 4 | 8, signed: entry.dtype.startsWith("I"), littleEndian: true },
    name,
  );
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapBytes(values: Float32Array | Float64Array): void {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const width = values.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** The first key that occurs twice at the top level of a JSON object's text, or null. */
export function firstDuplicateKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (ch === "{" || ch === "[") {
      depth++;
      if (depth === 1 && ch === "{") expectKey = true;
    } else if (ch === "}" || ch === "]") {
      depth--;
    } else if (ch === "," && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}
