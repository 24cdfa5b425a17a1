/**
 * Reads tensors from PyTorch .pt/.pth files: the zip archive torch.save writes since PyTorch 1.6,
 * `<prefix>/data.pkl` (the pickled object), `<prefix>/data/<key>` (one member per storage, raw
 * elements), `<prefix>/byteorder` ("little" or "big"; absent means little) and `<prefix>/version`.
 * The prefix is whatever the writer chose (`archive`, or the file's stem).
 *
 * Opening reads the zip directory and data.pkl once (torch-pickle.ts unpickles it against an
 * allow-list, executing nothing) and checks every tensor against its storage before any tensor
 * memory is allocated: the storage member exists, holds exactly numel × item size bytes, and the
 * strided view (offset, size, stride) lies inside it. `read` then streams only that storage's
 * member and keeps only the bytes the view spans.
 *
 * Names: a state_dict's keys (`layer1.0.bn1.running_mean`); nested dicts and lists flatten with
 * "." (a checkpoint's `model.layer1.0.bn1.weight`, `optimizer.state.0.momentum_buffer`); a file
 * holding one bare tensor (torch.save(tensor)) names it `tensor`. Only tensors have names: Python
 * ints, floats and strings in a checkpoint (`epoch`) are not tensors, and `readInteger` reads
 * integer tensors only (`num_batches_tracked`), as a Python int is no tensor of the model.
 * Refused by name: the legacy non-zip format, TorchScript archives, and any pickle global outside
 * the allow-list (torch-pickle.ts).
 */
import { InputFileError } from "../core/errors.js";
import { decodeCount } from "../core/integers.js";
import { readFully, withOpenFile } from "./read-file.js";
import { bfloat16FromBits, float16FromBits } from "../core/float16.js";
import { allocateForRead, allocateShared, type FloatArray, gatherStrided, type Tensor } from "../core/tensor.js";
import { type ArchiveFormat, checkedName, onlyTensorName, type TensorArchive } from "./archive.js";
import { TensorRecord, TORCH_ITEM_BYTES, unpickleTorch } from "./torch-pickle.js";
import { InlineArray, type NamedTensor, torchContents } from "./torch-names.js";
import { readCentralDirectory, readWholeMember, streamMember, type ZipEntry } from "./zip.js";

/**
 * data.pkl takes some 150 bytes per tensor (ResNet-18: 15 kB, a 7B LLM: ~50 kB): 16 MiB is ~100,000
 * tensors. The limit bounds what unpickling may allocate (a value per opcode byte, at worst).
 */
const MAX_PICKLE_BYTES = 16 * 1024 * 1024;

/** The most elements of one tensor (2^31: 8 GiB of float32, beyond what a BatchNorm check needs). */
const MAX_VIEW_ELEMENTS = 2 ** 31;
/** How many times a view may repeat its stored elements (stride 0) once it is over a million elements. */
const MAX_REPEAT = 1024;

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** torch.save's legacy format starts with its pickled magic number 0x1950a86a20f9469cfc6c (LONG1). */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

interface Layout {
  readonly prefix: string;
  readonly littleEndian: boolean;
  readonly storages: ReadonlyMap<string, ZipEntry>;
}

/**
 * @param name - the tensor's name; optional when the file holds one tensor.
 * @throws InputFileError naming the file (and tensor) and what is wrong.
 */
export function readTorchPt(path: string, name?: string): Tensor {
  const archive = openTorchPt(path);
  return archive.read(name ?? onlyTensorName(archive));
}

export function openTorchPt(path: string): TensorArchive {
  const { records, layout, size, skipped } = withOpenFile(path, (fd, size) => {
    refuseOtherFormats(fd, size, path);
    const entries = readZipDirectory(fd, size, path);
    const layout = readLayout(fd, entries, path);
    const root = unpickleTorch(readMember(fd, entries.get(`${layout.prefix}/data.pkl`)!, path, MAX_PICKLE_BYTES), path);
    const contents = torchContents(root, path);
    const records = contents.tensors;
    if (records.size === 0) throw new InputFileError(path, `holds no tensor: its data.pkl is ${contents.root}`);
    for (const [name, record] of records)
      if (record instanceof TensorRecord) checkView(record, layout, `${path}:${name}`);
    return { records, layout, size, skipped: contents.skipped };
  });
  const readWith = <T>(name: string, use: (fd: number, record: NamedTensor, where: string) => T): T => {
    const record = records.get(name) ?? records.get(checkedName(archive, name))!;
    return withOpenFile(path, (fd, now) => {
      if (now !== size) throw new InputFileError(path, `changed while being read (${size} bytes, now ${now})`);
      return use(fd, record, `${path}:${name}`);
    });
  };
  const archive: TensorArchive = {
    path,
    names: [...records.keys()],
    skipped,
    read: (name) =>
      readWith(name, (fd, record, where) =>
        record instanceof InlineArray
          ? readInlineFloat(record, where)
          : readFloatTensor(fd, record, layout, path, where),
      ),
    readInteger: (name) =>
      readWith(name, (fd, record, where) =>
        record instanceof InlineArray
          ? readInlineInteger(record, where)
          : readIntegerTensor(fd, record, layout, path, where),
      ),
    byteLength: (name) => {
      const record = records.get(name);
      if (record === undefined) return undefined;
      return record instanceof InlineArray
        ? record.bytes.length
        : viewExtent(record).count * TORCH_ITEM_BYTES[record.storage.dtype];
    },
  };
  return archive;
}

export const torchFormat: ArchiveFormat = { label: "PyTorch", extensions: [".pt", ".pth"], open: openTorchPt };

/** The legacy format and anything that is no zip are named before the zip reader sees them. */
function refuseOtherFormats(fd: number, size: number, path: string): void {
  const head = new Uint8Array(Math.min(size, LEGACY_MAGIC.length));
  readFully(fd, head, 0, path);
  if (ZIP_MAGIC.every((byte, i) => head[i] === byte)) return;
  if (LEGACY_MAGIC.every((byte, i) => head[i] === byte))
    throw new InputFileError(
      path,
      "is in the legacy PyTorch format (torch.save before 1.6, or " +
        "_use_new_zipfile_serialization=False): re-save with torch.save in PyTorch >= 1.6",
    );
  throw new InputFileError(path, "is not a PyTorch zip archive (torch.save in PyTorch >= 1.6 writes one)");
}

function readZipDirectory(fd: number, size: number, path: string): Map<string, ZipEntry> {
  let entries: ZipEntry[];
  try {
    entries = readCentralDirectory(fd, size, path);
  } catch (error) {
    // zip.ts speaks of .npz archives; the problem it names is the same here.
    if (error instanceof InputFileError)
      throw new InputFileError(path, error.problem.replace(".npz (zip) archive", "PyTorch (zip) archive"));
    throw error;
  }
  const byName = new Map<string, ZipEntry>();
  for (const entry of entries) {
    if (byName.has(entry.name)) throw new InputFileError(path, `holds the member ${entry.name} twice`);
    byName.set(entry.name, entry);
  }
  return byName;
}

/** The archive's prefix (the one directory holding data.pkl), byte order and storage members. */
function readLayout(fd: number, entries: ReadonlyMap<string, ZipEntry>, path: string): Layout {
  const names = [...entries.keys()];
  const prefixes = names
    .filter((name) => /^[^/]+\/data\.pkl$/.test(name))
    .map((name) => name.slice(0, -"/data.pkl".length));
  const torchScript = names.some((name) => /^[^/]+\/(constants\.pkl|code\/)/.test(name));
  if (torchScript)
    throw new InputFileError(
      path,
      "is a TorchScript archive (torch.jit.save): bn-check reads " +
        "torch.save files; save model.state_dict() with torch.save instead",
    );
  if (prefixes.length === 0)
    throw new InputFileError(path, "holds no <archive>/data.pkl: not a PyTorch archive written by torch.save");
  if (prefixes.length > 1)
    throw new InputFileError(
      path,
      `holds ${prefixes.length} data.pkl members (${prefixes.join(", ")}): one is expected`,
    );
  const prefix = prefixes[0];
  let littleEndian = true;
  const byteorder = entries.get(`${prefix}/byteorder`);
  if (byteorder !== undefined) {
    const text = new TextDecoder().decode(readMember(fd, byteorder, path, 16)).trim();
    if (text !== "little" && text !== "big")
      throw new InputFileError(path, `states byte order '${text}': 'little' or 'big' is expected`);
    littleEndian = text === "little";
  }
  const storages = new Map<string, ZipEntry>();
  const storagePrefix = `${prefix}/data/`;
  for (const [name, entry] of entries)
    if (name.startsWith(storagePrefix)) storages.set(name.slice(storagePrefix.length), entry);
  return { prefix, littleEndian, storages };
}

/** A whole small member (data.pkl, byteorder), its size checked before it is read. */
function readMember(fd: number, entry: ZipEntry, path: string, maxBytes: number): Uint8Array {
  if (entry.uncompressedSize > maxBytes)
    throw new InputFileError(
      path,
      `member ${entry.name} is ${entry.uncompressedSize} bytes: more than the ${maxBytes} bn-check reads`,
    );
  return readWholeMember(fd, entry, path);
}

/** The view's element count and the span of storage elements it reaches, from its offset. */
function viewExtent(record: TensorRecord): { count: number; span: number } {
  let count = 1;
  let last = 0;
  for (let axis = 0; axis < record.shape.length; axis++) {
    count *= record.shape[axis];
    if (record.shape[axis] > 0) last += (record.shape[axis] - 1) * record.stride[axis];
  }
  return { count, span: count === 0 ? 0 : last + 1 };
}

/** Everything data.pkl states about a tensor, checked against the zip before anything is allocated. */
function checkView(record: TensorRecord, layout: Layout, where: string): void {
  const { storage } = record;
  const entry = layout.storages.get(storage.key);
  if (entry === undefined)
    throw new InputFileError(
      where,
      `refers to storage ${storage.key}, but the archive has no member ${layout.prefix}/data/${storage.key}`,
    );
  const itemBytes = TORCH_ITEM_BYTES[storage.dtype];
  if (entry.uncompressedSize !== storage.numel * itemBytes)
    throw new InputFileError(
      where,
      `has storage ${storage.key} of ${storage.numel} ${storage.dtype} elements ` +
        `(${storage.numel * itemBytes} bytes), but its member holds ${entry.uncompressedSize} bytes`,
    );
  const { count, span } = viewExtent(record);
  const shape = `[${record.shape.join(", ")}]`;
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(span) || !Number.isSafeInteger(record.offset + span))
    throw new InputFileError(where, `has a shape ${shape} too large to hold`);
  // A view reads `span` elements and yields `count`: stride 0 (an expanded tensor) repeats them. Bounded
  // by what a tensor can hold in memory, and by what it reads: a view that repeats its storage more
  // than MAX_REPEAT times beyond a million elements is no honest parameter (a 4-byte storage viewed
  // as 2^30 elements would take 4 GiB).
  if (count > MAX_VIEW_ELEMENTS)
    throw new InputFileError(
      where,
      `views ${count} elements (shape ${shape}): more than the ${MAX_VIEW_ELEMENTS} bn-check reads as one tensor`,
    );
  if (count > 1 << 20 && count > MAX_REPEAT * Math.max(span, 1))
    throw new InputFileError(
      where,
      `views ${count} elements (shape ${shape}, stride [${record.stride.join(", ")}]) ` +
        `from ${span} stored ones: a repeated (stride-0) view this large is refused`,
    );
  if (count > 0 && record.offset + span > storage.numel)
    throw new InputFileError(
      where,
      `views elements ${record.offset} to ${record.offset + span - 1} (shape ${shape}, stride ` +
        `[${record.stride.join(", ")}]) of storage ${storage.key}, which holds ${storage.numel}`,
    );
}

const FLOAT_DTYPES = ["float32", "float64", "float16", "bfloat16"];
const INTEGER_DTYPES = ["int64", "int32", "int16", "int8", "uint8"];

function readFloatTensor(fd: number, record: TensorRecord, layout: Layout, path: string, where: string): Tensor {
  const { dtype } = record.storage;
  if (!FLOAT_DTYPES.includes(dtype))
    throw new InputFileError(where, `is a tensor of ${dtype}: bn-check checks float16, bfloat16, float32 and float64`);
  const { count, span } = viewExtent(record);
  const shape = [...record.shape];
  const contiguous = isContiguous(record);
  const itemBytes = TORCH_ITEM_BYTES[dtype];
  const entry = layout.storages.get(record.storage.key)!;
  if ((dtype === "float32" || dtype === "float64") && contiguous && layout.littleEndian === LITTLE_ENDIAN) {
    // The common case: the view's bytes go straight into the tensor's memory.
    const data = allocateForRead(dtype, count);
    streamWindow(
      fd,
      entry,
      path,
      record.offset * itemBytes,
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    return { dtype, shape, data };
  }
  const window = new Uint8Array(span * itemBytes);
  streamWindow(fd, entry, path, record.offset * itemBytes, window);
  const values = decodeElements(window, dtype, layout.littleEndian);
  const data = allocateShared(dtype === "float64" ? "float64" : "float32", count);
  if (contiguous) data.set(values.subarray(0, count));
  else gatherStrided(values, data, shape, record.stride);
  if (dtype === "float16") return { dtype: "float16", shape, data };
  if (dtype === "bfloat16") return { dtype: "float32", shape, data, precision: "bfloat16" };
  return { dtype: dtype === "float64" ? "float64" : "float32", shape, data };
}

/** A float numpy array held in data.pkl itself (C or Fortran order, either byte order). */
function readInlineFloat(array: InlineArray, where: string): Tensor {
  if (!FLOAT_DTYPES.includes(array.dtype))
    throw new InputFileError(where, `is a numpy array of ${array.dtype}: bn-check checks float16, float32 and float64`);
  const values = decodeElements(array.bytes, array.dtype, array.littleEndian);
  const shape = [...array.shape];
  const data = allocateShared(array.dtype === "float64" ? "float64" : "float32", values.length);
  if (!array.fortranOrder || shape.length < 2) data.set(values);
  else {
    // Fortran order: the first axis varies fastest.
    const strides: number[] = [];
    let step = 1;
    for (const dim of shape) {
      strides.push(step);
      step *= dim;
    }
    gatherStrided(values, data, shape, strides);
  }
  if (array.dtype === "float16") return { dtype: "float16", shape, data };
  return { dtype: array.dtype === "float64" ? "float64" : "float32", shape, data };
}

function readInlineInteger(array: InlineArray, where: string): number {
  if (!INTEGER_DTYPES.includes(array.dtype))
    throw new InputFileError(where, `is a numpy array of ${array.dtype}: an integer is expected here`);
  if (array.bytes.length !== TORCH_ITEM_BYTES[array.dtype])
    throw new InputFileError(
      where,
      `holds ${array.bytes.length / TORCH_ITEM_BYTES[array.dtype]} integers: one is expected here`,
    );
  const bytes = new Uint8Array(8);
  bytes.set(array.bytes);
  const width = TORCH_ITEM_BYTES[array.dtype] as 1 | 2 | 4 | 8;
  return decodeCount(bytes, 0, { width, signed: array.dtype !== "uint8", littleEndian: array.littleEndian }, where);
}

/** One element of an integer tensor (`num_batches_tracked`, a 0-d int64 tensor). */
function readIntegerTensor(fd: number, record: TensorRecord, layout: Layout, path: string, where: string): number {
  const { dtype } = record.storage;
  if (!INTEGER_DTYPES.includes(dtype))
    throw new InputFileError(where, `is a tensor of ${dtype}: an integer is expected here`);
  const { count } = viewExtent(record);
  if (count !== 1) throw new InputFileError(where, `holds ${count} integers: one is expected here`);
  const width = TORCH_ITEM_BYTES[dtype];
  const bytes = new Uint8Array(8);
  streamWindow(fd, layout.storages.get(record.storage.key)!, path, record.offset * width, bytes.subarray(0, width));
  return decodeCount(
    bytes,
    0,
    { width: width as 1 | 2 | 4 | 8, signed: dtype !== "uint8", littleEndian: layout.littleEndian },
    where,
  );
}

/** C-order strides for the shape (dimensions of size 1 may have any stride). */
function isContiguous(record: TensorRecord): boolean {
  let expected = 1;
  for (let axis = record.shape.length - 1; axis >= 0; axis--) {
    if (record.shape[axis] !== 1 && record.stride[axis] !== expected) return false;
    expected *= record.shape[axis];
  }
  return true;
}

/**
 * Streams a storage member (its CRC and size checked by zip.ts) and keeps the bytes from `start`
 * on that fit `target`: memory is what the view spans, not the whole storage.
 */
function streamWindow(fd: number, entry: ZipEntry, path: string, start: number, target: Uint8Array): void {
  const end = start + target.length;
  let position = 0;
  streamMember(
    fd,
    entry,
    path,
    (chunk) => {
      const from = Math.max(start, position);
      const to = Math.min(end, position + chunk.length);
      if (from < to) target.set(chunk.subarray(from - position, to - position), from - start);
      position += chunk.length;
    },
    end,
  );
}

/** Storage bytes in the file's byte order → values (float16 and bfloat16 decoded exactly to float32). */
function decodeElements(bytes: Uint8Array, dtype: string, littleEndian: boolean): FloatArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "float32" || dtype === "float64") {
    const width = dtype === "float32" ? 4 : 8;
    const values = dtype === "float32" ? new Float32Array(bytes.length / 4) : new Float64Array(bytes.length / 8);
    if (littleEndian === LITTLE_ENDIAN) {
      // The file's byte order is the machine's: one byte copy (a DataView read per element cost a
      // quarter of a second on a 47 MB checkpoint).
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength).set(bytes.subarray(0, values.byteLength));
      return values;
    }
    for (let i = 0; i < values.length; i++)
      values[i] = width === 4 ? view.getFloat32(i * 4, littleEndian) : view.getFloat64(i * 8, littleEndian);
    return values;
  }
  const decode = dtype === "float16" ? float16FromBits : bfloat16FromBits;
  const values = new Float32Array(bytes.length / 2);
  for (let i = 0; i < values.length; i++) values[i] = decode(view.getUint16(i * 2, littleEndian));
  return values;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
