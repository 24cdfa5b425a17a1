/**
 * HDF5 access for the Keras reader, over jsfive (a pure-JavaScript HDF5 reader working on an
 * ArrayBuffer): groups, attributes and datasets by path, every library failure turned into one
 * InputFileError naming the file (and dataset). jsfive is loaded on first use with a synchronous
 * `require`, as zip.ts loads fflate, so that commands reading no HDF5 never load it and the
 * archive interface stays synchronous. Why jsfive and not h5wasm: see keras.ts.
 *
 * jsfive throws strings as well as Errors and resolves soft links recursively, so the walk is bounded
 * in depth and in objects. jsfive finds a dataset's header messages; its shape and data are read by
 * hdf5-data.ts (jsfive's own `value` costs 20x the data and trusts every size the file states).
 */
import { createRequire } from "node:module";
import { InputFileError } from "../core/errors.js";
import { allocateForRead, type FloatDType, type Tensor } from "../core/tensor.js";
import { float16FromBits } from "../core/float16.js";
import {
  checkAttributeSizes,
  type DatasetData,
  type HeaderMessage,
  planDatasetRead,
  readDataspace,
} from "./hdf5-data.js";

/** What bn-check uses of jsfive (it ships no types). */
interface JsfiveNode {
  readonly attrs: Record<string, unknown>;
  /** Internal, but where jsfive keeps the object header's messages, which hdf5-data.ts reads. */
  readonly _dataobjects?: {
    find_msg_type?(type: number): { get(key: string): unknown }[];
  };
}
interface JsfiveGroup extends JsfiveNode {
  readonly keys: string[];
  get(path: string): JsfiveGroup | JsfiveDataset | null;
}
interface JsfiveDataset extends JsfiveNode {
  readonly dtype: unknown;
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

/** Enough of the start of a file for its superblock up to the end-of-file address (56 bytes for version 1). */
export const SUPERBLOCK_BYTES = 64;

/**
 * Where an HDF5 file ends by its own superblock (the end-of-file address HDF5 truncates the file to
 * on close), so that a reader holds and inflates that much and no more: a .keras member padded to
 * 1 GiB after a small HDF5 file costs the small file.
 * @param head - the file's first SUPERBLOCK_BYTES bytes (fewer if it is shorter).
 * @throws InputFileError when it is not HDF5, or uses addresses that are not 8 bytes (which jsfive
 * assumes) or a user block.
 */
export function hdf5FileEnd(head: Uint8Array, where: string): number {
  if (head.length < SIGNATURE.length || SIGNATURE.some((byte, i) => head[i] !== byte))
    throw new InputFileError(where, "is not an HDF5 file (it does not start with the HDF5 signature)");
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const version = head[8];
  // Superblock versions 0 and 1: sizes at bytes 13-14, base address at 24 (28 for version 1), the
  // end-of-file address two addresses later; versions 2 and 3: sizes at 9-10, base at 12, end at 28.
  const [sizesAt, baseAt] =
    version === 0 ? [13, 24] : version === 1 ? [13, 28] : version === 2 || version === 3 ? [9, 12] : [-1, -1];
  const endAt = baseAt + 16;
  if (sizesAt < 0)
    throw new InputFileError(where, `has an HDF5 superblock of version ${version}, which bn-check does not read`);
  if (head.length < endAt + 8) throw new InputFileError(where, "is truncated inside its HDF5 superblock");
  if (head[sizesAt] !== 8 || head[sizesAt + 1] !== 8)
    throw new InputFileError(
      where,
      `uses ${head[sizesAt]}-byte addresses and ${head[sizesAt + 1]}-byte ` +
        `lengths; bn-check reads HDF5 files with 8-byte ones (h5py's)`,
    );
  const address = (at: number) => view.getUint32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
  if (address(baseAt) !== 0)
    throw new InputFileError(where, "has a user block before its HDF5 superblock, which bn-check does not read");
  return address(endAt);
}

/**
 * Parses an HDF5 file's superblock and root group from memory.
 * @param where - how errors name the file.
 * @throws InputFileError when it is not HDF5 or jsfive cannot read it.
 */
export function openHdf5(bytes: Uint8Array, where: string): Hdf5File {
  if (bytes.length < SIGNATURE.length || SIGNATURE.some((byte, i) => bytes[i] !== byte))
    throw new InputFileError(where, "is not an HDF5 file (it does not start with the HDF5 signature)");
  jsfive ??= require("jsfive") as Jsfive;
  const library = jsfive;
  const buffer =
    bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
      ? (bytes.buffer as ArrayBuffer)
      : bytes.slice().buffer;
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
    const found =
      parent === null || isDataset(parent)
        ? null
        : guard(where, () => (parent.keys.includes(name) ? parent.get(name) : null));
    nodes.set(path, found);
    return found;
  };
  const isDataset = (value: unknown): value is JsfiveDataset => value instanceof library.Dataset;
  const checkedAttributes = new WeakSet<JsfiveNode>();
  // jsfive sizes an attribute's loop by its dataspace: each node's attributes are checked to fit
  // their messages (once) before jsfive reads any of them.
  const attribute = (path: string, name: string): unknown => {
    const found = node(path);
    if (found === null) return undefined;
    if (!checkedAttributes.has(found)) {
      checkAttributeSizes(bytes, headerMessages(found, ATTRIBUTE_MESSAGE, where), where);
      checkedAttributes.add(found);
    }
    return withoutPadding(guard(where, () => found.attrs[name]));
  };
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
    attribute,
    groupsUnder: (path) => {
      const groups: string[] = [];
      let visited = 0;
      const visit = (at: string, depth: number) => {
        if (depth > MAX_DEPTH)
          throw new InputFileError(
            where,
            `nests groups more than ${MAX_DEPTH} deep (${at}): a link loop, or not a Keras file`,
          );
        groups.push(at);
        const found = node(at) as JsfiveGroup;
        for (const child of guard(where, () => [...found.keys])) {
          if (++visited > MAX_OBJECTS)
            throw new InputFileError(
              where,
              `holds more than ${MAX_OBJECTS.toLocaleString("en-US")} groups ` +
                `and datasets: not a Keras weights file bn-check reads`,
            );
          const childPath = at === "" ? child : `${at}/${child}`;
          if (kind(childPath) === "group") visit(childPath, depth + 1);
        }
      };
      if (kind(path) === "group") visit(path, 0);
      return groups;
    },
    readFloat: (path, at) => readFloatDataset(dataset(path, at), at, bytes, attribute(path, "dtype")),
    readInteger: (path, at) => readIntegerDataset(dataset(path, at), at, bytes),
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
    throw new InputFileError(where, `is damaged or uses an HDF5 feature bn-check cannot read (${message})`, {
      cause: error,
    });
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

/** Object header message types (HDF5 spec IV.A.2). */
const DATASPACE_MESSAGE = 1;
const LAYOUT_MESSAGE = 8;
const FILTER_PIPELINE_MESSAGE = 11;
const ATTRIBUTE_MESSAGE = 12;

/** A node's header messages of one type, as jsfive located them. */
function headerMessages(node: JsfiveNode, type: number, where: string): HeaderMessage[] {
  const found = guard(where, () => node._dataobjects?.find_msg_type?.(type) ?? []);
  return found.map((message) => {
    const number = (key: string) => {
      const value = message.get(key);
      return typeof value === "number" ? value : Number.NaN;
    };
    return { offset: number("offset_to_message"), size: number("size"), flags: number("flags") };
  });
}

/**
 * The dataset's shape and a plan to read its data, from its header messages (hdf5-data.ts): jsfive
 * locates the messages; bn-check reads them and the data itself.
 */
function planRead(dataset: JsfiveDataset, where: string, file: Uint8Array, itemSize: number): DatasetData {
  const message = (type: number): HeaderMessage | undefined => headerMessages(dataset, type, where)[0];
  const space = message(DATASPACE_MESSAGE);
  const layout = message(LAYOUT_MESSAGE);
  if (space === undefined || layout === undefined)
    throw new InputFileError(where, "has no dataspace or data layout message: not a dataset bn-check can read");
  return planDatasetRead(
    file,
    readDataspace(file, space, where),
    itemSize,
    layout,
    message(FILTER_PIPELINE_MESSAGE),
    where,
  );
}

/** @param dtypeAttribute - the dataset's `dtype` attribute (Keras 3 marks bfloat16 variables so). */
function readFloatDataset(dataset: JsfiveDataset, where: string, file: Uint8Array, dtypeAttribute: unknown): Tensor {
  if (dtypeAttribute === "bfloat16")
    throw new InputFileError(
      where,
      "is a bfloat16 variable (stored as opaque bytes), which bn-check does not read from HDF5",
    );
  const dtypeText = guard(where, () => dataset.dtype);
  const type = numericType(dtypeText);
  const dtype = type?.kind === "f" ? FLOAT_TYPES[`f${type.width}`] : undefined;
  if (type === null || dtype === undefined)
    throw new InputFileError(
      where,
      `is a dataset of ${describeType(dataset, where)}: bn-check checks float16, float32 and float64 tensors`,
    );
  const plan = planRead(dataset, where, file, type.width);
  const bigEndian = (dtypeText as string).startsWith(">");
  const data = allocateForRead(dtype === "float64" ? "float64" : "float32", plan.count);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (dtype !== "float16") {
    // float32 and float64 decode straight into the tensor's memory; big-endian data is swapped there.
    plan.read(bytes);
    if (bigEndian) swapBytes(bytes, type.width);
  } else {
    // float16 values are held exactly in float32 storage, labelled float16 (as the .npy reader does).
    const raw = new Uint8Array(plan.count * 2);
    plan.read(raw);
    for (let i = 0; i < plan.count; i++)
      data[i] = float16FromBits(bigEndian ? (raw[2 * i] << 8) | raw[2 * i + 1] : raw[2 * i] | (raw[2 * i + 1] << 8));
  }
  return { dtype, shape: plan.shape, data };
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let at = 0; at < bytes.length; at += width) {
    for (let i = 0, j = width - 1; i < j; i++, j--) {
      const byte = bytes[at + i];
      bytes[at + i] = bytes[at + j];
      bytes[at + j] = byte;
    }
  }
}

/** A one-element integer dataset (an optimizer's `iterations`, a counter). */
function readIntegerDataset(dataset: JsfiveDataset, where: string, file: Uint8Array): number {
  const dtypeText = guard(where, () => dataset.dtype);
  const type = numericType(dtypeText);
  if (type === null || type.kind === "f")
    throw new InputFileError(where, `is a dataset of ${describeType(dataset, where)}: an integer is expected here`);
  const plan = planRead(dataset, where, file, type.width);
  if (plan.count !== 1)
    throw new InputFileError(where, `holds ${plan.count.toLocaleString("en-US")} integers: one is expected here`);
  const raw = new Uint8Array(type.width);
  plan.read(raw);
  if ((dtypeText as string).startsWith(">")) raw.reverse();
  let value = 0n;
  for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]);
  if (type.kind === "i" && raw[raw.length - 1] & 0x80) value -= 1n << BigInt(8 * raw.length);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
    throw new InputFileError(where, `holds ${value}: not an integer bn-check can count with`);
  return Number(value);
}

/**
 * A fixed-length HDF5 string ends at its first NUL (null-padded and null-terminated strings alike):
 * Keras 2 stores `layer_names` and `weight_names` as numpy 'S' arrays, padded to the longest name,
 * which jsfive hands over with the padding.
 */
function withoutPadding(value: unknown): unknown {
  const trim = (item: unknown) =>
    typeof item === "string" && item.includes("\0") ? item.slice(0, item.indexOf("\0")) : item;
  return Array.isArray(value) ? value.map(trim) : trim(value);
}
