/**
 * HDF5 access for the Keras reader, over jsfive (a pure-JavaScript HDF5 reader working on an
 * ArrayBuffer): groups, attributes and datasets by path, every library failure turned into one
 * InputFileError naming the file (and dataset). jsfive is loaded on first use with a synchronous
 * `require`, as zip.ts loads fflate, so that commands reading no HDF5 never load it and the
 * archive interface stays synchronous. Why jsfive and not h5wasm: see keras.ts.
 *
 * jsfive throws strings as well as Errors, resolves soft links recursively and trusts the
 * dataspace it is given, so: the walk is bounded in depth and in objects, and a dataset's shape is
 * checked against the bytes the file could hold before its values are read.
 */
import { createRequire } from "node:module";
import { InputFileError } from "../errors.js";
import { allocateShared, type FloatDType, type Tensor } from "../npy/tensor.js";

/** What bn-check uses of jsfive (it ships no types). */
interface JsfiveNode {
  readonly attrs: Record<string, unknown>;
}
interface JsfiveGroup extends JsfiveNode {
  readonly keys: string[];
  get(path: string): JsfiveGroup | JsfiveDataset | null;
}
interface JsfiveDataset extends JsfiveNode {
  readonly shape: unknown;
  readonly dtype: unknown;
  readonly value: unknown;
  /** Internal, but the only place jsfive says whether the data is compressed, and where the dataspace lies. */
  readonly _dataobjects?: {
    readonly filter_pipeline: unknown;
    readonly fh?: ArrayBuffer;
    readonly chunks?: unknown;
    find_msg_type?(type: number): { get(key: string): unknown }[];
  };
}
interface Jsfive {
  File: new (buffer: ArrayBuffer, name: string) => JsfiveGroup;
  Dataset: abstract new (...args: never[]) => JsfiveDataset;
}

const require = createRequire(import.meta.url);
let jsfive: Jsfive | null = null;

/** The signature at the start of every HDF5 file without a user block (HDF5 spec, "Superblock"). */
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
/** Deeper than any Keras file; a hard link to an ancestor stops here instead of looping. */
const MAX_DEPTH = 32;
/** Groups and datasets a walk visits at most (a model of 10,000 layers has some 50,000). */
const MAX_OBJECTS = 200_000;
/** A deflated chunk inflates at most about 1032-fold. */
const MAX_INFLATION = 1032;

export type Hdf5Kind = "group" | "dataset" | "missing";

/** An HDF5 file held in memory, read by path ("" is the root group, no leading slash). */
export interface Hdf5File {
  /** The name errors give the file (`model.keras:model.weights.h5` for a member). */
  readonly where: string;
  kind(path: string): Hdf5Kind;
  /** A group's members, in the file's (name) order; [] for anything else. */
  children(path: string): string[];
  attribute(path: string, name: string): unknown;
  /** Every group below `path`, itself included, parents before children; bounded (MAX_DEPTH, MAX_OBJECTS). */
  groupsUnder(path: string): string[];
  readFloat(path: string, where: string): Tensor;
  readInteger(path: string, where: string): number;
}

/**
 * Parses an HDF5 file's superblock and root group from memory.
 * @param where - how errors name the file.
 * @throws InputFileError when it is not HDF5 or jsfive cannot read it.
 */
export function openHdf5(bytes: Uint8Array, where: string): Hdf5File {
  if (bytes.length < SIGNATURE.length || SIGNATURE.some((byte, i) => bytes[i] !== byte)) throw new InputFileError(where, "is not an HDF5 file (it does not start with the HDF5 signature)");
  jsfive ??= require("jsfive") as Jsfive;
  const library = jsfive;
  const buffer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
  const root = guard(where, () => new library.File(buffer, where));
  // Each node is looked up once, from its cached parent: jsfive re-reads a group's whole link
  // table on every `get`, so looking paths up from the root made naming a 100-layer file 4x slower.
  const nodes = new Map<string, JsfiveGroup | JsfiveDataset | null>([["", root]]);
  const node = (path: string): JsfiveGroup | JsfiveDataset | null => {
    const cached = nodes.get(path);
    if (cached !== undefined) return cached;
    const slash = path.lastIndexOf("/");
    const parent = slash < 0 ? root : node(path.slice(0, slash));
    const name = path.slice(slash + 1);
    const found = parent === null || isDataset(parent) ? null : guard(where, () => (parent.keys.includes(name) ? parent.get(name) : null));
    nodes.set(path, found);
    return found;
  };
  const isDataset = (value: unknown): value is JsfiveDataset => value instanceof library.Dataset;
  const kind = (path: string): Hdf5Kind => {
    const found = node(path);
    return found === null ? "missing" : isDataset(found) ? "dataset" : "group";
  };
  const dataset = (path: string, at: string): JsfiveDataset => {
    const found = node(path);
    if (!isDataset(found)) throw new InputFileError(at, `has no dataset ${path} in the file`);
    return found;
  };
  return {
    where,
    kind,
    children: (path) => {
      const found = node(path);
      if (found === null || isDataset(found)) return [];
      return guard(where, () => [...found.keys]);
    },
    attribute: (path, name) => {
      const found = node(path);
      return found === null ? undefined : withoutPadding(guard(where, () => found.attrs[name]));
    },
    groupsUnder: (path) => {
      const groups: string[] = [];
      let visited = 0;
      const visit = (at: string, depth: number) => {
        if (depth > MAX_DEPTH) throw new InputFileError(where, `nests groups more than ${MAX_DEPTH} deep (${at}): a link loop, or not a Keras file`);
        groups.push(at);
        const found = node(at) as JsfiveGroup;
        for (const child of guard(where, () => [...found.keys])) {
          if (++visited > MAX_OBJECTS) throw new InputFileError(where, `holds more than ${MAX_OBJECTS.toLocaleString("en-US")} groups and datasets: not a Keras weights file bn-check reads`);
          const childPath = at === "" ? child : `${at}/${child}`;
          if (kind(childPath) === "group") visit(childPath, depth + 1);
        }
      };
      if (kind(path) === "group") visit(path, 0);
      return groups;
    },
    readFloat: (path, at) => readFloatDataset(dataset(path, at), at, bytes.length),
    readInteger: (path, at) => readIntegerDataset(dataset(path, at), at),
  };
}

/**
 * Runs a jsfive call; whatever it throws becomes one line naming the file. jsfive also prints a
 * console.warn for an attribute type it does not read (and gives null, which the callers refuse
 * where it matters): silenced, as the CLI's stderr is one error line or nothing.
 */
function guard<T>(where: string, use: () => T): T {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return use();
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new InputFileError(where, `is damaged or uses an HDF5 feature bn-check cannot read (${message})`, { cause: error });
  } finally {
    console.warn = warn;
  }
}

const FLOAT_TYPES: Readonly<Record<string, FloatDType>> = { f2: "float16", f4: "float32", f8: "float64" };

/** jsfive's dtype for a numeric dataset: "<f4", ">i8", "|u1"; arrays for compound, string and reference types. */
function numericType(dtype: unknown): { kind: string; width: number } | null {
  const match = typeof dtype === "string" ? /^[<>=|!]?([fiu])(\d+)$/.exec(dtype) : null;
  return match === null ? null : { kind: match[1], width: Number(match[2]) };
}

function describeType(dataset: JsfiveDataset, where: string): string {
  const dtype = guard(where, () => dataset.dtype);
  const type = numericType(dtype);
  if (type !== null) return `${{ f: "float", i: "int", u: "uint" }[type.kind]}${type.width * 8}`;
  if (typeof dtype === "string") return dtype.startsWith("S") ? "strings" : dtype;
  return Array.isArray(dtype) ? String(dtype[0]).toLowerCase() : "an unknown type";
}

/**
 * The dimensions the dataspace message states, read as the 64-bit numbers HDF5 writes: jsfive keeps
 * only their low 32 bits, so a dataset declared with 2^40 elements would read as 0 of them (and pass
 * a check as an empty tensor). Null where jsfive's internals are not as expected.
 */
function dataspaceDims(dataset: JsfiveDataset): number[] | null {
  try {
    const objects = dataset._dataobjects;
    const message = objects?.find_msg_type?.(1)?.[0];
    const buffer = objects?.fh;
    if (message === undefined || buffer === undefined) return null;
    const offset = Number(message.get("offset_to_message"));
    const view = new DataView(buffer);
    const version = view.getUint8(offset);
    const rank = view.getUint8(offset + 1);
    const start = offset + (version === 1 ? 8 : 4);
    const dims: number[] = [];
    for (let axis = 0; axis < rank; axis++) dims.push(view.getUint32(start + axis * 8 + 4, true) * 2 ** 32 + view.getUint32(start + axis * 8, true));
    return dims;
  } catch {
    return null;
  }
}

/** The dataset's shape, checked, and its element count. */
function checkedShape(dataset: JsfiveDataset, where: string): { shape: number[]; count: number } {
  const shape = guard(where, () => dataset.shape);
  const stated = dataspaceDims(dataset);
  if (stated !== null && Array.isArray(shape) && stated.length === shape.length && stated.some((dim, axis) => dim !== shape[axis])) {
    throw new InputFileError(where, `states a shape [${stated.join(", ")}] that jsfive reads as [${shape.join(", ")}]: dimensions of 2^32 or more are refused`);
  }
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) throw new InputFileError(where, "has a shape that is not a list of non-negative integers");
  let count = 1;
  for (const dim of shape as number[]) {
    count *= dim;
    if (!Number.isSafeInteger(count)) throw new InputFileError(where, `has a shape [${shape.join(", ")}] too large to hold`);
  }
  return { shape: [...(shape as number[])], count };
}

/** A chunk may overhang the data at its edges, not exceed it by orders of magnitude. */
const MAX_CHUNK_OVERSHOOT = 64;
/** HDF5 itself limits a chunk to 4 GiB; Keras' are a few MiB. */
const MAX_CHUNK_BYTES = 2 ** 30;

/** Its values, after checking that the file can hold that many (jsfive allocates what the shape says). */
function checkedValues(dataset: JsfiveDataset, where: string, count: number, width: number, fileBytes: number): ArrayLike<unknown> {
  const compressed = guard(where, () => dataset._dataobjects?.filter_pipeline != null);
  const room = compressed ? fileBytes * MAX_INFLATION : fileBytes;
  if (count * width > room)
    throw new InputFileError(
      where,
      `claims ${count.toLocaleString("en-US")} values of ${width} bytes, more than the ${fileBytes.toLocaleString("en-US")}-byte file can hold${compressed ? " compressed" : ""}`,
    );
  // jsfive sizes its work by the chunk shape: a chunk dimension patched to 2^31 − 1 spun for minutes.
  const chunks = guard(where, () => dataset._dataobjects?.chunks);
  if (Array.isArray(chunks)) {
    const chunkElements = chunks.reduce((product: number, dim: unknown) => product * (typeof dim === "number" ? dim : Number.NaN), 1);
    if (!(chunkElements >= 1) || chunkElements > Math.max(count, 1) * MAX_CHUNK_OVERSHOOT || chunkElements * width > MAX_CHUNK_BYTES) {
      throw new InputFileError(where, `has chunks of [${chunks.join(", ")}] for ${count.toLocaleString("en-US")} values: not chunks HDF5 writes for this dataset`);
    }
  }
  const values = guard(where, () => dataset.value);
  if (values === null || typeof values !== "object" || typeof (values as ArrayLike<unknown>).length !== "number") throw new InputFileError(where, "has no data jsfive could read");
  const length = (values as ArrayLike<unknown>).length;
  // An undefined storage address (never written) gives no data: refused rather than read as zeros.
  if (length !== count) throw new InputFileError(where, `holds ${length} values, but its shape needs ${count}`);
  return values as ArrayLike<unknown>;
}

function readFloatDataset(dataset: JsfiveDataset, where: string, fileBytes: number): Tensor {
  if (guard(where, () => dataset.attrs.dtype) === "bfloat16") throw new InputFileError(where, "is a bfloat16 variable (stored as opaque bytes), which bn-check does not read from HDF5");
  const type = numericType(guard(where, () => dataset.dtype));
  const dtype = type?.kind === "f" ? FLOAT_TYPES[`f${type.width}`] : undefined;
  if (type === null || dtype === undefined) throw new InputFileError(where, `is a dataset of ${describeType(dataset, where)}: bn-check checks float16, float32 and float64 tensors`);
  const { shape, count } = checkedShape(dataset, where);
  const values = checkedValues(dataset, where, count, type.width, fileBytes);
  const data = allocateShared(dtype === "float64" ? "float64" : "float32", count);
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (typeof value !== "number") throw new InputFileError(where, `has no number at index ${i} (its data was never written, or is of a type jsfive does not read as numbers)`);
    data[i] = value;
  }
  // float16 values are held exactly in float32 storage, labelled float16 (as the .npy reader does).
  return { dtype, shape, data };
}

/** A one-element integer dataset (an optimizer's `iterations`, a counter). */
function readIntegerDataset(dataset: JsfiveDataset, where: string): number {
  const type = numericType(guard(where, () => dataset.dtype));
  if (type === null || type.kind === "f") throw new InputFileError(where, `is a dataset of ${describeType(dataset, where)}: an integer is expected here`);
  const { count } = checkedShape(dataset, where);
  if (count !== 1) throw new InputFileError(where, `holds ${count} integers: one is expected here`);
  const value = Number(checkedValues(dataset, where, 1, type.width, Number.MAX_SAFE_INTEGER)[0]);
  if (!Number.isSafeInteger(value)) throw new InputFileError(where, `holds ${value}: not an integer bn-check can count with`);
  return value;
}

/**
 * A fixed-length HDF5 string ends at its first NUL (null-padded and null-terminated strings alike):
 * Keras 2 stores `layer_names` and `weight_names` as numpy 'S' arrays, padded to the longest name,
 * which jsfive hands over with the padding.
 */
function withoutPadding(value: unknown): unknown {
  const trim = (item: unknown) => (typeof item === "string" && item.includes("\0") ? item.slice(0, item.indexOf("\0")) : item);
  return Array.isArray(value) ? value.map(trim) : trim(value);
}
