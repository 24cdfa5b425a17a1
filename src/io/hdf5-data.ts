/**
 * A dataset's shape and raw data, read by bn-check itself from the messages of its object header
 * (which jsfive locates): the dataspace (dimensions as the 64-bit numbers HDF5 writes), the data
 * layout (compact, contiguous, or chunked with a version-1 B-tree of chunks), the filter pipeline
 * (deflate, shuffle, fletcher32). Every address, size and chunk offset is checked against the file
 * and the shape before anything is allocated, and each chunk is decoded and its rows copied straight
 * into the caller's bytes.
 *
 * Why not jsfive's `value`: it builds a JavaScript Array of boxed numbers and walks every element of
 * every chunk by the chunk shape the file states (a 50 M-float gzip dataset took 15 s and 940 MB
 * for `diff F F`; a chunk dimension patched to 2^31 − 1 spun for minutes), keeps only the low 32
 * bits of each dimension (2^40 elements read as 0), and reads a dataset never written as an empty
 * array. Here the cost is the data's bytes plus one chunk, and node:zlib inflates each chunk with
 * its output bounded by the chunk's size.
 *
 * Reference: HDF5 File Format Specification 3.0: III.A.1 (version 1 B-trees), IV.A.2.b (Dataspace),
 * IV.A.2.i (Data Layout), IV.A.2.l (Filter Pipeline); HDF5's H5Zshuffle.c and H5checksum.c
 * (H5_checksum_fletcher32).
 */
import { createRequire } from "node:module";
import { InputFileError } from "../core/errors.js";

/** An object header message as jsfive locates it. */
export interface HeaderMessage {
  readonly offset: number;
  readonly size: number;
  readonly flags: number;
}

/** What a dataset's header says about its data, checked. */
export interface DatasetData {
  readonly shape: number[];
  readonly count: number;
  /**
   * Copies the dataset's `count × itemSize` bytes, C order, in the file's byte order, into `target`.
   * @throws InputFileError when a chunk does not decode to what the header promises.
   */
  read(target: Uint8Array): void;
}

/** The undefined address (all bits set): storage never allocated, i.e. data never written. */
const UNDEFINED = 2 ** 64 - 1;
/** Deflate's largest expansion: a 258-byte match in as little as 2 bits. */
const MAX_DEFLATE_RATIO = 1032;
/**
 * A chunk larger than the dataset it holds is refused beyond this: h5py's own chunk guess stays at
 * or below 1 MiB (CHUNK_MAX), and HDF5 refuses chunks larger than a fixed-size dataset's dimensions.
 */
const CHUNK_ALLOWANCE = 2 ** 20;
/** The chunk grid's bytes may exceed the dataset's by its edge chunks' overhang, not more than this. */
const MAX_GRID_OVERHANG = 16;
/** Deeper than a B-tree over any file's chunks (each level multiplies the entries by up to 2^16). */
const MAX_BTREE_LEVEL = 32;

const FILTER_DEFLATE = 1;
const FILTER_SHUFFLE = 2;
const FILTER_FLETCHER32 = 3;
const FILTER_NAMES: Readonly<Record<number, string>> = {
  4: "szip",
  5: "nbit",
  6: "scaleoffset",
  32000: "lzf",
  32001: "blosc",
  32004: "lz4",
  32008: "bitshuffle",
  32015: "zstd",
};

interface Filter {
  readonly id: number;
  readonly values: readonly number[];
}

/** A little-endian reader over the file that refuses to read past its end. */
class Reader {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    private readonly fail: (problem: string) => never,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private check(at: number, length: number, what: string): void {
    if (!(at >= 0 && at + length <= this.bytes.length)) this.fail(`has ${what} outside the file (byte ${at})`);
  }
  u8(at: number, what: string): number {
    this.check(at, 1, what);
    return this.view.getUint8(at);
  }
  u16(at: number, what: string): number {
    this.check(at, 2, what);
    return this.view.getUint16(at, true);
  }
  u32(at: number, what: string): number {
    this.check(at, 4, what);
    return this.view.getUint32(at, true);
  }
  /** A 64-bit length or address; values past 2^53 come back as UNDEFINED or above any file. */
  u64(at: number, what: string): number {
    this.check(at, 8, what);
    return this.view.getUint32(at + 4, true) * 2 ** 32 + this.view.getUint32(at, true);
  }
}

/**
 * The dataspace's dimensions and element count.
 * @throws InputFileError for a null dataspace (no values), a message outside the file, or a count
 * past 2^53.
 */
export function readDataspace(
  file: Uint8Array,
  message: HeaderMessage,
  where: string,
): { shape: number[]; count: number } {
  const fail = failure(where);
  const reader = new Reader(file, fail);
  if (message.flags & 0x02) fail("has a shared dataspace message, which bn-check does not read");
  const version = reader.u8(message.offset, "a dataspace message");
  const rank = reader.u8(message.offset + 1, "a dataspace message");
  if (version !== 1 && version !== 2) fail(`has a dataspace message of version ${version}`);
  if (version === 2 && reader.u8(message.offset + 3, "a dataspace message") === 2)
    fail("has a null dataspace: it holds no values");
  if (rank > 32) fail(`has a dataspace of rank ${rank} (HDF5 allows 32)`);
  const start = message.offset + (version === 1 ? 8 : 4);
  const shape: number[] = [];
  let count = 1;
  for (let axis = 0; axis < rank; axis++) {
    const dim = reader.u64(start + axis * 8, "a dataspace message");
    shape.push(dim);
    count *= dim;
  }
  if (!shape.every(Number.isSafeInteger) || !Number.isSafeInteger(count))
    fail(`has a shape [${shape.map(formatBig).join(", ")}] too large to hold`);
  return { shape, count };
}

/**
 * Plans the read of a dataset's data: layout, filters and (for chunked data) the whole chunk index
 * checked, nothing allocated beyond the index.
 * @param itemSize - bytes per element, from the datatype.
 * @param pipeline - the filter pipeline message, if any.
 * @throws InputFileError for data never written, storage outside the file, chunks HDF5 would not
 * write, or filters bn-check does not decode.
 */
export function planDatasetRead(
  file: Uint8Array,
  space: { readonly shape: number[]; readonly count: number },
  itemSize: number,
  layout: HeaderMessage,
  pipeline: HeaderMessage | undefined,
  where: string,
): DatasetData {
  const fail = failure(where);
  const reader = new Reader(file, fail);
  const { shape, count } = space;
  const bytes = count * itemSize;
  const done = (read: (target: Uint8Array) => void): DatasetData => ({ shape, count, read });
  const neverWritten = (): never =>
    fail(
      `declares ${count.toLocaleString("en-US")} values (shape ` +
        `[${shape.join(", ")}]) but its data was never written: it holds no tensor`,
    );
  if (layout.flags & 0x02) fail("has a shared data layout message, which bn-check does not read");
  const version = reader.u8(layout.offset, "a data layout message");
  if (version < 1 || version > 4) fail(`has a data layout message of version ${version}`);
  const layoutClass = reader.u8(layout.offset + (version <= 2 ? 2 : 1), "a data layout message");
  const filters = pipeline === undefined ? [] : readFilters(reader, pipeline, fail);
  if (version <= 2) {
    // HDF5 1.6 and before: class, then (after 5 reserved bytes) the address and the dimensions.
    if (layoutClass === 1 && filters.length === 0)
      return contiguous(
        reader,
        reader.u64(layout.offset + 8, "a data layout message"),
        bytes,
        fail,
        neverWritten,
        done,
      );
    if (layoutClass === 2) {
      const dimensionality = reader.u8(layout.offset + 1, "a data layout message");
      return chunked(
        reader,
        layout.offset + 8,
        layout.offset + 16,
        dimensionality,
        space,
        itemSize,
        filters,
        where,
        neverWritten,
        done,
      );
    }
    fail(`has a version ${version} data layout of class ${layoutClass}, which bn-check does not read`);
  }
  if (layoutClass === 0) {
    const size = reader.u16(layout.offset + 2, "a data layout message");
    if (size < bytes) fail(`holds ${size} bytes of compact data; its shape needs ${bytes}`);
    if (4 + size > layout.size || layout.offset + 4 + size > file.length)
      fail("has compact data that runs past its data layout message");
    return done((target) => target.set(file.subarray(layout.offset + 4, layout.offset + 4 + bytes)));
  }
  if (layoutClass === 1) {
    const size = reader.u64(layout.offset + 10, "a data layout message");
    const address = reader.u64(layout.offset + 2, "a data layout message");
    if (address !== UNDEFINED && size < bytes)
      fail(`stores ${formatBig(size)} bytes; its shape needs ${formatBig(bytes)}`);
    return contiguous(reader, address, bytes, fail, neverWritten, done);
  }
  if (layoutClass === 2 && version === 3) {
    const dimensionality = reader.u8(layout.offset + 2, "a data layout message");
    return chunked(
      reader,
      layout.offset + 3,
      layout.offset + 11,
      dimensionality,
      space,
      itemSize,
      filters,
      where,
      neverWritten,
      done,
    );
  }
  return fail(
    layoutClass === 2
      ? "indexes its chunks in the version 4 data layout (h5py's libver='latest'), " +
          "which bn-check does not read: save with h5py's default libver"
      : `has a data layout of class ${layoutClass}, which bn-check does not read`,
  );
}

function contiguous(
  reader: Reader,
  address: number,
  bytes: number,
  fail: (problem: string) => never,
  neverWritten: () => never,
  done: (read: (target: Uint8Array) => void) => DatasetData,
): DatasetData {
  if (bytes === 0) return done(() => {});
  if (address === UNDEFINED) neverWritten();
  if (address + bytes > reader.bytes.length)
    fail(
      `has ${formatBig(bytes)} bytes of data at byte ${formatBig(address)}, past ` +
        `the end of the ${reader.bytes.length.toLocaleString("en-US")}-byte file`,
    );
  return done((target) => target.set(reader.bytes.subarray(address, address + bytes)));
}

/** Filter Pipeline message, versions 1 and 2: each filter's id and client data. */
function readFilters(reader: Reader, message: HeaderMessage, fail: (problem: string) => never): Filter[] {
  const what = "a filter pipeline message";
  const end = message.offset + message.size;
  const version = reader.u8(message.offset, what);
  const count = reader.u8(message.offset + 1, what);
  if (version !== 1 && version !== 2) fail(`has a filter pipeline message of version ${version}`);
  let at = message.offset + (version === 1 ? 8 : 2);
  const filters: Filter[] = [];
  for (let k = 0; k < count; k++) {
    const id = reader.u16(at, what);
    const named = version === 1 || id >= 256;
    const nameLength = named ? reader.u16(at + 2, what) : 0;
    at += named ? 4 : 2;
    at += 2; // flags (optional filters are skipped through each chunk's filter mask)
    const valueCount = reader.u16(at, what);
    at += 2 + (version === 1 ? Math.ceil(nameLength / 8) * 8 : nameLength);
    const values: number[] = [];
    for (let v = 0; v < valueCount; v++) values.push(reader.u32(at + 4 * v, what));
    at += 4 * valueCount + (version === 1 && valueCount % 2 === 1 ? 4 : 0);
    if (at > end) fail("has a filter pipeline message that runs past its end");
    filters.push({ id, values });
  }
  for (const filter of filters) {
    if (filter.id !== FILTER_DEFLATE && filter.id !== FILTER_SHUFFLE && filter.id !== FILTER_FLETCHER32) {
      const name = FILTER_NAMES[filter.id];
      fail(
        `is compressed with HDF5 filter ${filter.id}${name === undefined ? "" : ` (${name})`}` +
          `, which bn-check does not decode (it reads gzip, shuffle and fletcher32)`,
      );
    }
  }
  return filters;
}

/**
 * Checks that each attribute's values fit in its message before jsfive reads them: jsfive sizes
 * its loop by the attribute's dataspace, so a `layer_names` whose dimension is patched to 2^31 spun
 * for minutes. Attribute message versions 1 (fields padded to 8 bytes), 2 and 3; a variable-length
 * value is stored as a 16-byte heap reference.
 * @throws InputFileError naming the attribute's position when its values overrun its message.
 */
export function checkAttributeSizes(file: Uint8Array, messages: readonly HeaderMessage[], where: string): void {
  const fail = failure(where);
  const reader = new Reader(file, fail);
  const what = "an attribute message";
  for (const message of messages) {
    const version = reader.u8(message.offset, what);
    if (version < 1 || version > 3) continue; // jsfive refuses these itself, before any loop
    const [nameSize, typeSize, spaceSize] = [
      reader.u16(message.offset + 2, what),
      reader.u16(message.offset + 4, what),
      reader.u16(message.offset + 6, what),
    ];
    const pad = (size: number) => (version === 1 ? Math.ceil(size / 8) * 8 : size);
    const typeAt = message.offset + (version === 3 ? 9 : 8) + pad(nameSize);
    const spaceAt = typeAt + pad(typeSize);
    const dataAt = spaceAt + pad(spaceSize);
    const typeClass = reader.u8(typeAt, what) & 0x0f;
    const itemSize = typeClass === 9 ? 16 : reader.u32(typeAt + 4, what);
    const spaceVersion = reader.u8(spaceAt, what);
    const rank = reader.u8(spaceAt + 1, what);
    const dimsAt = spaceAt + (spaceVersion === 1 ? 8 : 4);
    let items = 1;
    for (let axis = 0; axis < rank; axis++) items *= reader.u64(dimsAt + 8 * axis, what);
    const room = message.offset + message.size - dataAt;
    if (!(items * itemSize <= room))
      fail(
        `has an attribute of ${formatBig(items)} values of ${itemSize} ` +
          `bytes in a ${message.size}-byte message: the file is damaged`,
      );
  }
}

interface Chunk {
  readonly offsets: readonly number[];
  readonly address: number;
  readonly size: number;
  readonly mask: number;
}

/**
 * Chunked storage: the layout's B-tree address and chunk dimensions (the last one the element size),
 * the B-tree walked once, every chunk's offset checked to lie on the chunk grid inside the dataset,
 * each grid cell stored exactly once.
 */
function chunked(
  reader: Reader,
  addressAt: number,
  dimsAt: number,
  dimensionality: number,
  space: { readonly shape: number[]; readonly count: number },
  itemSize: number,
  filters: readonly Filter[],
  where: string,
  neverWritten: () => never,
  done: (read: (target: Uint8Array) => void) => DatasetData,
): DatasetData {
  const fail = failure(where);
  const { shape, count } = space;
  const rank = shape.length;
  if (dimensionality !== rank + 1) fail(`has chunks of ${dimensionality - 1} dimensions for a dataset of ${rank}`);
  const chunkShape: number[] = [];
  for (let axis = 0; axis < rank; axis++) chunkShape.push(reader.u32(dimsAt + 4 * axis, "a data layout message"));
  const elementSize = reader.u32(dimsAt + 4 * rank, "a data layout message");
  const chunkElements = chunkShape.reduce((product, dim) => product * dim, 1);
  const chunkBytes = chunkElements * itemSize;
  const dataBytes = count * itemSize;
  const refuseChunks = (why: string): never =>
    fail(`has chunks of [${chunkShape.join(", ")}] for ${count.toLocaleString("en-US")} values: ${why}`);
  if (elementSize !== itemSize) refuseChunks(`its chunks hold ${elementSize}-byte elements, its datatype ${itemSize}`);
  if (count === 0) return done(() => {});
  if (chunkShape.some((dim) => dim < 1) || chunkBytes > Math.max(dataBytes, CHUNK_ALLOWANCE))
    refuseChunks("not chunks HDF5 writes for this dataset");
  const grid = shape.map((dim, axis) => Math.ceil(dim / chunkShape[axis]));
  const cells = grid.reduce((product, n) => product * n, 1);
  if (cells * chunkBytes > MAX_GRID_OVERHANG * Math.max(dataBytes, CHUNK_ALLOWANCE))
    refuseChunks("not chunks HDF5 writes for this dataset");
  const root = reader.u64(addressAt, "a data layout message");
  if (root === UNDEFINED) neverWritten();
  const chunks = chunkIndex(reader, root, rank, shape, chunkShape, grid, cells, fail);
  if (chunks.length < cells)
    fail(`has ${chunks.length} of its ${cells} chunks written: the rest of its data was never written`);
  const deflated = filters.some((filter) => filter.id === FILTER_DEFLATE);
  for (const chunk of chunks) {
    // A chunk's stored bytes bound what it can decode to; refused before anything is allocated.
    const room =
      deflated && (chunk.mask & maskOf(filters, FILTER_DEFLATE)) === 0 ? chunk.size * MAX_DEFLATE_RATIO : chunk.size;
    if (room < chunkBytes)
      fail(`has a chunk at [${chunk.offsets.join(", ")}] of ${chunk.size} bytes, too few for its ${chunkBytes}`);
  }
  return done((target) => {
    for (const chunk of chunks) {
      const decoded = decodeChunk(
        reader.bytes.subarray(chunk.address, chunk.address + chunk.size),
        chunk,
        filters,
        chunkBytes,
        itemSize,
        fail,
      );
      placeChunk(decoded, chunk.offsets, chunkShape, shape, itemSize, target);
    }
  });
}

function maskOf(filters: readonly Filter[], id: number): number {
  let mask = 0;
  filters.forEach((filter, index) => {
    if (filter.id === id) mask |= 1 << index;
  });
  return mask;
}

/** The chunks a version-1 B-tree (node type 1) indexes, each node visited once, levels descending. */
function chunkIndex(
  reader: Reader,
  root: number,
  rank: number,
  shape: readonly number[],
  chunkShape: readonly number[],
  grid: readonly number[],
  cells: number,
  fail: (problem: string) => never,
): Chunk[] {
  const what = "a chunk B-tree node";
  const keySize = 8 + 8 * (rank + 1);
  const chunks: Chunk[] = [];
  const seenCells = new Set<number>();
  const seenNodes = new Set<number>();
  const pending: [number, number | null][] = [[root, null]];
  while (pending.length > 0) {
    const [address, expectedLevel] = pending.pop()!;
    if (seenNodes.has(address)) fail(`has a chunk B-tree that reaches the node at byte ${formatBig(address)} twice`);
    seenNodes.add(address);
    const signature = String.fromCharCode(
      reader.u8(address, what),
      reader.u8(address + 1, what),
      reader.u8(address + 2, what),
      reader.u8(address + 3, what),
    );
    if (signature !== "TREE" || reader.u8(address + 4, what) !== 1)
      fail(`has no chunk B-tree node at byte ${formatBig(address)}`);
    const level = reader.u8(address + 5, what);
    if (level > MAX_BTREE_LEVEL || (expectedLevel !== null && level !== expectedLevel))
      fail(`has a chunk B-tree node at byte ${formatBig(address)} of level ${level}, out of order`);
    const entries = reader.u16(address + 6, what);
    for (let entry = 0; entry < entries; entry++) {
      const key = address + 24 + entry * (keySize + 8);
      const child = reader.u64(key + keySize, what);
      if (level > 0) {
        pending.push([child, level - 1]);
        continue;
      }
      const size = reader.u32(key, what);
      const mask = reader.u32(key + 4, what);
      const offsets: number[] = [];
      let cell = 0;
      for (let axis = 0; axis < rank; axis++) {
        const offset = reader.u64(key + 8 + 8 * axis, what);
        if (offset % chunkShape[axis] !== 0 || offset >= shape[axis])
          fail(
            `has a chunk at offset ${formatBig(offset)} on axis ${axis}, ` +
              `off its chunk grid or outside the shape [${shape.join(", ")}]`,
          );
        offsets.push(offset);
        cell = cell * grid[axis] + offset / chunkShape[axis];
      }
      if (reader.u64(key + 8 + 8 * rank, what) !== 0)
        fail(`has a chunk B-tree key at byte ${key} whose element offset is not 0`);
      if (seenCells.has(cell)) fail(`stores the chunk at [${offsets.join(", ")}] twice`);
      seenCells.add(cell);
      if (size === 0 || child === UNDEFINED || child + size > reader.bytes.length)
        fail(`has the chunk at [${offsets.join(", ")}] (${size} bytes at byte ${formatBig(child)}) outside the file`);
      chunks.push({ offsets, address: child, size, mask });
    }
    if (chunks.length > cells) fail(`has more chunks than its ${cells} grid cells`);
  }
  return chunks;
}

/** Undoes the filters (last applied first) the chunk's mask does not skip; exactly `chunkBytes` result. */
function decodeChunk(
  stored: Uint8Array,
  chunk: Chunk,
  filters: readonly Filter[],
  chunkBytes: number,
  itemSize: number,
  fail: (problem: string) => never,
): Uint8Array {
  const at = `the chunk at [${chunk.offsets.join(", ")}]`;
  let bytes = stored;
  for (let index = filters.length - 1; index >= 0; index--) {
    if (chunk.mask & (1 << index)) continue;
    const filter = filters[index];
    if (filter.id === FILTER_FLETCHER32) {
      if (bytes.length < 4 || !fletcher32Matches(bytes))
        fail(`has ${at} failing its fletcher32 checksum: the file is damaged`);
      bytes = bytes.subarray(0, bytes.length - 4);
    } else if (filter.id === FILTER_DEFLATE) {
      try {
        bytes = (createRequire(import.meta.url)("node:zlib") as typeof import("node:zlib")).inflateSync(bytes, {
          maxOutputLength: chunkBytes,
        });
      } catch (error) {
        fail(`has ${at} that does not inflate to its ${chunkBytes} bytes (${(error as Error).message})`);
      }
    } else {
      if (filter.values.length > 0 && filter.values[0] !== itemSize)
        fail(`shuffles ${filter.values[0]}-byte elements for a ${itemSize}-byte datatype`);
      bytes = unshuffle(bytes, itemSize);
    }
  }
  if (bytes.length !== chunkBytes)
    fail(`has ${at} of ${bytes.length} bytes once decoded; its chunk shape needs ${chunkBytes}`);
  return bytes;
}

/** H5Zshuffle.c: byte k of every element was stored together; bytes past whole elements stay in place. */
function unshuffle(bytes: Uint8Array, itemSize: number): Uint8Array {
  if (itemSize <= 1) return bytes;
  const elements = Math.floor(bytes.length / itemSize);
  const out = new Uint8Array(bytes.length);
  for (let byte = 0; byte < itemSize; byte++) {
    const plane = byte * elements;
    for (let i = 0; i < elements; i++) out[i * itemSize + byte] = bytes[plane + i];
  }
  out.set(bytes.subarray(elements * itemSize), elements * itemSize);
  return out;
}

/**
 * H5_checksum_fletcher32 over big-endian 16-bit words (an odd last byte as the high half), stored
 * little-endian after the data; HDF5 also accepts the half-swapped value older versions wrote.
 */
function fletcher32Matches(bytes: Uint8Array): boolean {
  const length = bytes.length - 4;
  let sum1 = 0;
  let sum2 = 0;
  let i = 0;
  for (let words = length >> 1; words > 0; ) {
    const block = Math.min(words, 360);
    words -= block;
    for (let k = 0; k < block; k++, i += 2) {
      sum1 += (bytes[i] << 8) | bytes[i + 1];
      sum2 += sum1;
    }
    sum1 = (sum1 & 0xffff) + (sum1 >>> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >>> 16);
  }
  if (length % 2 === 1) {
    sum1 += bytes[length - 1] << 8;
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >>> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >>> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >>> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >>> 16);
  const computed = ((sum2 << 16) | sum1) >>> 0;
  const stored =
    (bytes[length] | (bytes[length + 1] << 8) | (bytes[length + 2] << 16) | (bytes[length + 3] << 24)) >>> 0;
  const swapped = (((computed & 0x00ff00ff) << 8) | ((computed >>> 8) & 0x00ff00ff)) >>> 0;
  return stored === computed || stored === swapped;
}

/**
 * Copies a decoded chunk's elements that lie inside the dataset (edge chunks overhang it) into the
 * C-order target: one copy per row along the last axis.
 */
function placeChunk(
  chunk: Uint8Array,
  offsets: readonly number[],
  chunkShape: readonly number[],
  shape: readonly number[],
  itemSize: number,
  target: Uint8Array,
): void {
  const rank = shape.length;
  if (rank === 0) {
    target.set(chunk.subarray(0, itemSize));
    return;
  }
  const extents = shape.map((dim, axis) => Math.min(chunkShape[axis], dim - offsets[axis]));
  const chunkStrides = new Array<number>(rank);
  const dataStrides = new Array<number>(rank);
  chunkStrides[rank - 1] = itemSize;
  dataStrides[rank - 1] = itemSize;
  for (let axis = rank - 2; axis >= 0; axis--) {
    chunkStrides[axis] = chunkStrides[axis + 1] * chunkShape[axis + 1];
    dataStrides[axis] = dataStrides[axis + 1] * shape[axis + 1];
  }
  const run = extents[rank - 1] * itemSize;
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  let destination = 0;
  for (let axis = 0; axis < rank; axis++) destination += offsets[axis] * dataStrides[axis];
  for (;;) {
    target.set(chunk.subarray(source, source + run), destination);
    let axis = rank - 2;
    for (; axis >= 0; axis--) {
      index[axis]++;
      source += chunkStrides[axis];
      destination += dataStrides[axis];
      if (index[axis] < extents[axis]) break;
      source -= chunkStrides[axis] * extents[axis];
      destination -= dataStrides[axis] * extents[axis];
      index[axis] = 0;
    }
    if (axis < 0) return;
  }
}

function failure(where: string): (problem: string) => never {
  return (problem) => {
    throw new InputFileError(where, problem);
  };
}

/** A 64-bit quantity for a message: grouped digits, or "2^64 − 1" for the undefined address. */
function formatBig(value: number): string {
  return value >= 2 ** 63 ? "2^64 - 1" : value.toLocaleString("en-US");
}
