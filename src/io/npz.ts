/**
 * Reads one array from a .npz archive (np.savez and np.savez_compressed: a zip of .npy members).
 * Only the member asked for is inflated: its .npy header is read from its first bytes and checked
 * (and checked against the size the zip directory states) before any tensor memory is allocated,
 * and the rest is inflated straight into the tensor, chunk by chunk (zip.ts checks the archive).
 */
import { InputFileError } from "../core/errors.js";
import { readFully, readFullyAsync, withOpenFile, withOpenFileAsync } from "./read-file.js";
import { npyLayoutOf, npyPreambleLength, parseNpyBytes, type NpyLayout } from "./npy/read-npy.js";
import { allocateForRead, type Tensor } from "../core/tensor.js";
import { npyScalarInteger } from "./npy/read-npy-integer.js";
import { type ArchiveFormat, checkedName, onlyTensorName, type TensorArchive } from "./archive.js";
import {
  checkMemberCrc,
  memberDataStart,
  readCentralDirectory,
  readWholeMember,
  streamMember,
  type ZipEntry,
} from "./zip.js";

/** A .npy header is at most this long (numpy writes a few hundred bytes). */
const MAX_PREAMBLE = 1 << 16;

/**
 * @param member - the array name (`x` for the member `x.npy`); optional when the archive holds one array.
 */
export function readNpz(path: string, member?: string): Tensor {
  const archive = openNpz(path);
  return archive.read(member ?? onlyTensorName(archive, "arrays"));
}

/** The archive's directory, read and checked once; arrays are then read by name. */
export function openNpz(path: string): TensorArchive {
  const { entries, size } = withOpenFile(path, (fd, size) => ({
    entries: readCentralDirectory(fd, size, path).filter((entry) => entry.name.endsWith(".npy")),
    size,
  }));
  const byName = new Map(entries.map((entry) => [entry.name.slice(0, -4), entry]));
  const unchanged = (now: number) => {
    if (now !== size) throw new InputFileError(path, `changed while being read (${size} bytes, now ${now})`);
  };
  const readWith = <T>(name: string, use: (fd: number, entry: ZipEntry, where: string) => T): T => {
    const entry = byName.get(checkedName(archive, name, "array", "archive"))!;
    return withOpenFile(path, (fd, now) => {
      unchanged(now);
      return use(fd, entry, `${path}:${name}`);
    });
  };
  const archive: TensorArchive = {
    path,
    names: [...byName.keys()],
    read: (name) => readWith(name, (fd, entry, where) => readMember(fd, entry, path, where)),
    readAsync: async (name) => {
      const entry = byName.get(checkedName(archive, name, "array", "archive"))!;
      const where = `${path}:${name}`;
      const tensor = await withOpenFileAsync(path, async (fd, now) => {
        unchanged(now);
        return readStoredInPlace(fd, entry, path, where);
      });
      return tensor ?? archive.read(name);
    },
    readInteger: (name) =>
      readWith(name, (fd, entry, where) => npyScalarInteger(readSmallMember(fd, entry, path, where), where)),
    byteLength: (name) => byName.get(name)?.uncompressedSize,
    peek: (name) => {
      const entry = byName.get(name);
      if (entry === undefined) return undefined;
      return withOpenFile(path, (fd) => peekMember(fd, entry, path, `${path}:${name}`));
    },
  };
  return archive;
}

export const npzFormat: ArchiveFormat = { label: "npz", extensions: [".npz"], items: "arrays", open: openNpz };

/**
 * A stored member with little-endian C-order data (what np.savez writes) read straight into the
 * tensor's memory on libuv's threads, its CRC checked over the bytes in place: no chunk copies.
 * Null for anything else (deflated, another layout), which `readMember` reads.
 */
async function readStoredInPlace(fd: number, entry: ZipEntry, path: string, name: string): Promise<Tensor | null> {
  if (entry.method !== 0) return null;
  const dataStart = memberDataStart(fd, entry, path);
  const preamble = new Uint8Array(Math.min(entry.uncompressedSize, 4096));
  readFully(fd, preamble, dataStart, path);
  const needed = npyPreambleLength(preamble);
  if (needed === null || needed > preamble.length) return null;
  const layout = npyLayoutOf(preamble.subarray(0, needed), entry.uncompressedSize, name);
  const expected = layout.dataOffset + layout.dataBytes;
  if (expected !== entry.uncompressedSize)
    throw new InputFileError(
      name,
      `its .npy header describes ${expected} bytes; the zip directory states ${entry.uncompressedSize}`,
    );
  if (!layout.direct) return null;
  const data = allocateForRead(layout.descr.dtype, layout.count);
  const target = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const head = preamble.subarray(layout.dataOffset);
  target.set(head);
  const rest = target.subarray(head.length);
  await readFullyAsync(fd, rest, dataStart + preamble.length, path);
  checkMemberCrc(entry, [preamble, rest], path);
  return { dtype: layout.descr.dtype, shape: layout.header.shape, data };
}

/** A member's header only: its first bytes inflated (a member that inflates to gigabytes costs a few kB here). */
function peekMember(
  fd: number,
  entry: ZipEntry,
  path: string,
  name: string,
): { dtype: Tensor["dtype"]; shape: readonly number[] } | undefined {
  checkClaim(entry, name);
  const wanted = Math.min(entry.uncompressedSize, MAX_PREAMBLE);
  const head = new Uint8Array(wanted);
  let filled = 0;
  streamMember(
    fd,
    entry,
    path,
    (chunk) => {
      const take = Math.min(chunk.length, wanted - filled);
      if (take > 0) head.set(chunk.subarray(0, take), filled);
      filled += take;
    },
    wanted,
  );
  const needed = npyPreambleLength(head.subarray(0, filled));
  if (needed === null || needed > filled) return undefined;
  const layout = npyLayoutOf(head.subarray(0, needed), entry.uncompressedSize, name);
  return { dtype: layout.descr.dtype, shape: layout.header.shape };
}

/** Deflate's largest expansion (a 258-byte match in 2 bits), plus room for block headers. */
const MAX_DEFLATE_RATIO = 1032;
const DEFLATE_SLACK = 1024;

/**
 * A deflated member cannot inflate to more than 1032 times its compressed size: a directory (and
 * .npy header) claiming more is refused before anything is inflated or allocated.
 */
function checkClaim(entry: ZipEntry, name: string): void {
  if (entry.method === 8 && entry.uncompressedSize > entry.compressedSize * MAX_DEFLATE_RATIO + DEFLATE_SLACK)
    throw new InputFileError(
      name,
      `its zip directory claims ${entry.uncompressedSize.toLocaleString("en-US")} bytes from ` +
        `${entry.compressedSize.toLocaleString("en-US")} deflated: more than deflate can hold (${MAX_DEFLATE_RATIO}x)`,
    );
}

function readMember(fd: number, entry: ZipEntry, path: string, name: string): Tensor {
  checkClaim(entry, name);
  let preamble = new Uint8Array(0);
  let layout: (NpyLayout & { direct: boolean }) | null = null;
  let tensor: Tensor | null = null;
  let target: Uint8Array | null = null;
  let written = 0;
  const place = (chunk: Uint8Array) => {
    target!.set(chunk, written);
    written += chunk.length;
  };
  streamMember(fd, entry, path, (chunk) => {
    if (layout !== null) {
      place(chunk);
      return;
    }
    const joined = new Uint8Array(preamble.length + chunk.length);
    joined.set(preamble);
    joined.set(chunk, preamble.length);
    preamble = joined;
    const needed = npyPreambleLength(preamble);
    if (needed === null || preamble.length < Math.min(needed, entry.uncompressedSize)) {
      if (preamble.length > MAX_PREAMBLE) throw new InputFileError(name, "has a .npy header longer than 64 KiB");
      return;
    }
    layout = npyLayoutOf(preamble.subarray(0, Math.min(needed, preamble.length)), entry.uncompressedSize, name);
    const expected = layout.dataOffset + layout.dataBytes;
    if (expected !== entry.uncompressedSize)
      throw new InputFileError(
        name,
        `its .npy header describes ${expected} bytes; the zip directory states ${entry.uncompressedSize}`,
      );
    if (layout.direct) {
      // Little-endian C-order data goes straight into the tensor's memory.
      const data = allocateForRead(layout.descr.dtype, layout.count);
      tensor = { dtype: layout.descr.dtype, shape: layout.header.shape, data };
      target = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      place(preamble.subarray(layout.dataOffset));
    } else {
      // Other layouts (big-endian, Fortran order, float16) are converted from the whole member.
      target = new Uint8Array(entry.uncompressedSize);
      place(preamble);
    }
    preamble = new Uint8Array(0);
  });
  // The callback assigned these; TypeScript cannot follow it there.
  const seen = layout as (NpyLayout & { direct: boolean }) | null;
  if (seen === null) return parseNpyBytes(preamble, name); // too short for a header: parseNpyBytes names the problem
  return seen.direct ? (tensor as Tensor | null)! : parseNpyBytes(target as unknown as Uint8Array, name);
}

/** A counter's member is a few hundred bytes; anything larger is not one. */
const MAX_COUNTER_BYTES = 4096;

function readSmallMember(fd: number, entry: ZipEntry, path: string, name: string): Uint8Array {
  if (entry.uncompressedSize > MAX_COUNTER_BYTES)
    throw new InputFileError(name, `is ${entry.uncompressedSize} bytes: one integer is expected here`);
  return readWholeMember(fd, entry, path);
}
