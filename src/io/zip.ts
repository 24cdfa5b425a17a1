/**
 * A zip reader for .npz archives that reads only what it is asked for: the end-of-central-directory
 * record (zip64 too), the central directory (checked against the file's size before it is read),
 * and one member, whose local header must agree with its directory entry. A member is inflated
 * (fflate's streaming Inflate) chunk by chunk into memory the caller chooses once it has seen the
 * member's first bytes, its CRC-32 is checked, and it must inflate to exactly the size its directory
 * entry states. Encrypted members, other compression methods and lying directories are refused.
 * Reference: PKWARE APPNOTE.TXT 6.3 (sections 4.3 and 4.4).
 */
import { createRequire } from "node:module";
import { InputFileError } from "../core/errors.js";
import { readFully } from "./read-file.js";

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const CENTRAL_ENTRY_MIN = 46;
const MAX_COMMENT = 0xffff;
/** Compressed data is read this much at a time. */
const READ_CHUNK = 1 << 20;

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
  /** Where the member's local header and data must end: the start of the central directory. */
  readonly dataLimit: number;
}

const require = createRequire(import.meta.url);
let fflate: typeof import("fflate") | null = null;

function read(fd: number, position: number, length: number, path: string): Uint8Array {
  const bytes = new Uint8Array(length);
  readFully(fd, bytes, position, path);
  return bytes;
}

/**
 * The entries of the central directory, every count, size and offset checked against the file.
 * @param kind - what errors call the archive (".keras (zip)" for a Keras model).
 */
export function readCentralDirectory(fd: number, fileSize: number, path: string, kind = ".npz (zip)"): ZipEntry[] {
  const fail = (problem: string): never => {
    throw new InputFileError(path, `is not a readable ${kind} archive: ${problem}`);
  };
  const tailLength = Math.min(fileSize, 22 + MAX_COMMENT + 20);
  const tail = read(fd, fileSize - tailLength, tailLength, path);
  const view = new DataView(tail.buffer);
  let eocd = -1;
  for (let at = tail.length - 22; at >= 0; at--) {
    if (view.getUint32(at, true) === EOCD && at + 22 + view.getUint16(at + 20, true) === tail.length) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail("no end-of-central-directory record");
  let count = view.getUint16(eocd + 10, true);
  let directorySize = view.getUint32(eocd + 12, true);
  let directoryOffset = view.getUint32(eocd + 16, true);
  const eocdPosition = fileSize - tailLength + eocd;
  let directoryEnd = eocdPosition;
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === EOCD64_LOCATOR) {
    const recordOffset = Number(view.getBigUint64(eocd - 12, true));
    if (recordOffset + 56 > eocdPosition - 20) fail("its zip64 record lies outside the file");
    const record = new DataView(read(fd, recordOffset, 56, path).buffer);
    if (record.getUint32(0, true) !== EOCD64) fail("its zip64 record is missing");
    const count64 = record.getBigUint64(32, true);
    const size64 = record.getBigUint64(40, true);
    const offset64 = record.getBigUint64(48, true);
    if (count64 > BigInt(fileSize) || size64 > BigInt(fileSize) || offset64 > BigInt(fileSize))
      fail(
        `its zip64 record claims ${count64} entries in ${size64} bytes ` +
          `at ${offset64}, more than a ${fileSize}-byte file holds`,
      );
    count = Number(count64);
    directorySize = Number(size64);
    directoryOffset = Number(offset64);
    directoryEnd = recordOffset;
  }
  if (directoryOffset + directorySize > directoryEnd)
    fail(`its central directory (${directorySize} bytes at ${directoryOffset}) runs past the end of the file`);
  if (count * CENTRAL_ENTRY_MIN > directorySize)
    fail(`it claims ${count} entries in a ${directorySize}-byte central directory`);
  const directory = read(fd, directoryOffset, directorySize, path);
  const dv = new DataView(directory.buffer);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let k = 0; k < count; k++) {
    if (at + CENTRAL_ENTRY_MIN > directory.length || dv.getUint32(at, true) !== CENTRAL)
      fail(`central directory entry ${k} is damaged`);
    const nameLength = dv.getUint16(at + 28, true);
    const extraLength = dv.getUint16(at + 30, true);
    const commentLength = dv.getUint16(at + 32, true);
    const end = at + CENTRAL_ENTRY_MIN + nameLength + extraLength + commentLength;
    if (end > directory.length) fail(`central directory entry ${k} runs past the directory`);
    const name = new TextDecoder().decode(
      directory.subarray(at + CENTRAL_ENTRY_MIN, at + CENTRAL_ENTRY_MIN + nameLength),
    );
    let compressedSize = dv.getUint32(at + 20, true);
    let uncompressedSize = dv.getUint32(at + 24, true);
    let localHeaderOffset = dv.getUint32(at + 42, true);
    // zip64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in this order.
    for (let e = at + CENTRAL_ENTRY_MIN + nameLength; e + 4 <= at + CENTRAL_ENTRY_MIN + nameLength + extraLength; ) {
      const id = dv.getUint16(e, true);
      const size = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let field = e + 4;
        const next = () => {
          if (field + 8 > e + 4 + size) fail(`entry ${name}'s zip64 field is too short`);
          const value = Number(dv.getBigUint64(field, true));
          field += 8;
          return value;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
      }
      e += 4 + size;
    }
    if (localHeaderOffset + 30 + compressedSize > directoryOffset)
      fail(`entry ${name}'s data (${compressedSize} bytes at ${localHeaderOffset}) runs into the central directory`);
    entries.push({
      name,
      method: dv.getUint16(at + 10, true),
      flags: dv.getUint16(at + 8, true),
      crc32: dv.getUint32(at + 16, true),
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
      dataLimit: directoryOffset,
    });
    at = end;
  }
  return entries;
}

/** A running CRC-32 (zlib's where Node has it, else a table). */
const crcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();
type Crc32 = (data: Uint8Array, value?: number) => number;
let nativeCrc32: Crc32 | undefined | null = null;
function crc32(chunk: Uint8Array, previous: number): number {
  // node:zlib is loaded when a zip is first read, not at start-up by every command that might read one.
  if (nativeCrc32 === null) nativeCrc32 = (require("node:zlib") as { crc32?: Crc32 }).crc32;
  const native = nativeCrc32;
  if (native !== undefined) return native(chunk, previous);
  let c = ~previous >>> 0;
  for (let i = 0; i < chunk.length; i++) c = crcTable[(c ^ chunk[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function memberFailure(entry: ZipEntry, path: string): (problem: string) => never {
  return (problem) => {
    throw new InputFileError(path, `member ${entry.name}: ${problem}`);
  };
}

/**
 * Where a member's data starts, after checking its flags, method and local header against the
 * central directory (the checks every read of a member begins with).
 */
export function memberDataStart(fd: number, entry: ZipEntry, path: string): number {
  const fail = memberFailure(entry, path);
  if (entry.flags & 0x1) fail("is encrypted, which bn-check does not read");
  if (entry.method !== 0 && entry.method !== 8)
    fail(`uses compression method ${entry.method} (bn-check reads stored and deflated members)`);
  const local = new DataView(read(fd, entry.localHeaderOffset, 30, path).buffer);
  if (local.getUint32(0, true) !== LOCAL) fail("its local header is missing");
  if (local.getUint16(8, true) !== entry.method)
    fail("its local header and the central directory disagree on the compression method");
  const nameLength = local.getUint16(26, true);
  const start = entry.localHeaderOffset + 30 + nameLength + local.getUint16(28, true);
  // The local header's own name and extra lengths decide where the data starts: lengths that run it
  // past the central directory are the archive's lie (read, they ended past the file's end, which
  // was blamed on the file changing while being read).
  if (start + entry.compressedSize > entry.dataLimit)
    fail(
      `its local header's name and extra fields (${start - entry.localHeaderOffset - 30} ` +
        `bytes) put its ${entry.compressedSize} bytes of data past the central directory`,
    );
  const localName = new TextDecoder().decode(read(fd, entry.localHeaderOffset + 30, nameLength, path));
  if (localName !== entry.name) fail(`its local header names '${localName}'`);
  if (entry.method === 0 && entry.compressedSize !== entry.uncompressedSize)
    fail("is stored, but its compressed and uncompressed sizes differ");
  return start;
}

/**
 * Checks the CRC-32 of a stored member read in place by the caller (in parts, in order: the CRC
 * of the parts chained). Reading a stored member straight into its tensor spares the copy
 * `streamMember` makes.
 */
export function checkMemberCrc(entry: ZipEntry, parts: readonly Uint8Array[], path: string): void {
  let crc = 0;
  for (const part of parts) crc = crc32(part, crc);
  if (crc !== entry.crc32)
    memberFailure(
      entry,
      path,
    )(
      `fails its CRC-32 check (${crc.toString(16).padStart(8, "0")}, the directory ` +
        `says ${entry.crc32.toString(16).padStart(8, "0")}): the archive is damaged`,
    );
}

/** A whole member's uncompressed bytes (callers check its size against their limit first). */
export function readWholeMember(fd: number, entry: ZipEntry, path: string): Uint8Array {
  const bytes = new Uint8Array(entry.uncompressedSize);
  let written = 0;
  streamMember(fd, entry, path, (chunk) => {
    bytes.set(chunk, written);
    written += chunk.length;
  });
  return bytes;
}

/**
 * The first `length` bytes of a member, inflated no further: all of it, CRC-32 checked, when
 * `length` is its size (callers check `length` against their limit first).
 */
export function readMemberPrefix(fd: number, entry: ZipEntry, path: string, length: number): Uint8Array {
  const bytes = new Uint8Array(Math.min(length, entry.uncompressedSize));
  let written = 0;
  streamMember(
    fd,
    entry,
    path,
    (chunk) => {
      const take = Math.min(chunk.length, bytes.length - written);
      bytes.set(chunk.subarray(0, take), written);
      written += take;
    },
    bytes.length,
  );
  return bytes;
}

/**
 * Streams one member's uncompressed bytes to `sink`, in order, and checks them: the local header
 * against the directory, the method, encryption, the inflated size and the CRC-32.
 * @param sink - receives each chunk (it may copy it; the chunk is not kept).
 */
/** Compressed bytes pushed at a time when only the start of a member is wanted (≤ 16 MiB inflated). */
const PARTIAL_PIECE = 16 * 1024;

export function streamMember(
  fd: number,
  entry: ZipEntry,
  path: string,
  sink: (chunk: Uint8Array) => void,
  until: number = entry.uncompressedSize,
): void {
  const fail = memberFailure(entry, path);
  const dataStart = memberDataStart(fd, entry, path);
  let produced = 0;
  let crc = 0;
  const emit = (chunk: Uint8Array) => {
    produced += chunk.length;
    if (produced > entry.uncompressedSize)
      fail(`inflates to more than the ${entry.uncompressedSize} bytes its directory entry states`);
    crc = crc32(chunk, crc);
    sink(chunk);
  };
  // A reader that needs only the first `until` bytes (a view at the start of a large storage) stops
  // there: a 1 MB member that inflates to 1 GiB costs what the view needs. The CRC then covers only
  // a whole member.
  const partial = until < entry.uncompressedSize;
  if (entry.method === 0) {
    // One chunk buffer, refilled: the sink copies what it keeps (a fresh zeroed buffer per chunk
    // was a fifth of reading a 90 MB activations .npz).
    const chunk = new Uint8Array(Math.min(READ_CHUNK, entry.compressedSize));
    for (let offset = 0; offset < entry.compressedSize && produced < until; offset += READ_CHUNK) {
      const part = chunk.subarray(0, Math.min(READ_CHUNK, entry.compressedSize - offset));
      readFully(fd, part, dataStart + offset, path);
      emit(part);
    }
  } else {
    fflate ??= require("fflate") as typeof import("fflate");
    let ended = false;
    const inflate = new fflate.Inflate((chunk, final) => {
      emit(chunk);
      if (final) ended = true;
    });
    try {
      // Reading part of a member, compressed data goes in small pieces: deflate inflates up to 1032x,
      // and one READ_CHUNK of zeros would inflate to a gigabyte before `until` could stop it. A whole
      // member goes in pieces that inflate to about READ_CHUNK at its overall ratio: fflate grows one
      // buffer for what a push yields (a 1 MB member of 1 GiB of zeros took 25 s and 4.3 GB in
      // 1 MiB pushes, 7.5 s and the tensor's 1 GiB in 16 KiB ones), and ordinary data (ratio near
      // 1) keeps 1 MiB pushes, which fflate inflates a fifth faster.
      const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
      const piece = partial
        ? PARTIAL_PIECE
        : Math.max(PARTIAL_PIECE, Math.min(READ_CHUNK, 2 ** Math.floor(Math.log2(READ_CHUNK / Math.max(1, ratio)))));
      for (let offset = 0; offset < entry.compressedSize && produced < until; offset += piece) {
        const length = Math.min(piece, entry.compressedSize - offset);
        inflate.push(read(fd, dataStart + offset, length, path), offset + length >= entry.compressedSize);
      }
    } catch (error) {
      if (error instanceof InputFileError) throw error;
      fail(`is not valid deflate data (${(error as Error).message})`);
    }
    if (partial && produced >= until) return;
    if (!ended && entry.compressedSize > 0) fail("its deflate stream ends early");
  }
  if (partial && produced >= until) return;
  if (produced !== entry.uncompressedSize)
    fail(`inflates to ${produced} bytes; its directory entry states ${entry.uncompressedSize}`);
  if (crc !== entry.crc32)
    fail(
      `fails its CRC-32 check (${crc.toString(16).padStart(8, "0")}, the directory ` +
        `says ${entry.crc32.toString(16).padStart(8, "0")}): the archive is damaged`,
    );
}
