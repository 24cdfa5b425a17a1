import { closeSync, fstatSync, openSync, read as fsRead, statSync } from "node:fs";
import { InputFileError } from "../core/errors.js";
import { copyFromFile, readInto, type FileRange } from "../core/file-copy.js";
import { availableParallelism } from "node:os";

/**
 * Reads a whole regular file, with one clear error per way it can fail (missing, unreadable, a
 * directory, a FIFO or device, empty).
 * @throws InputFileError naming the path.
 */
export function readFileBytes(path: string): Uint8Array {
  return withOpenFile(path, (fd, size) => {
    const bytes = new Uint8Array(size);
    readFully(fd, bytes, 0, path);
    return bytes;
  });
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "EISDIR") return "is a directory, not a .npy file";
  return `cannot be read (${(error as Error)?.message ?? String(error)})`;
}

/**
 * Opens a regular file (with the same checks and messages as `readFileBytes`) and hands its
 * descriptor and size to `use`; the file is closed afterwards whatever happens.
 */
export function withOpenFile<T>(path: string, use: (fd: number, size: number) => T): T {
  const fd = openRegularFile(path);
  try {
    return use(fd, fileSizeOf(fd, path));
  } catch (error) {
    throw asInputFileError(error, path);
  } finally {
    closeSync(fd);
  }
}

/** `withOpenFile` for a `use` that reads asynchronously: the file is closed when it settles. */
export async function withOpenFileAsync<T>(path: string, use: (fd: number, size: number) => Promise<T>): Promise<T> {
  const fd = openRegularFile(path);
  try {
    return await use(fd, fileSizeOf(fd, path));
  } catch (error) {
    throw asInputFileError(error, path);
  } finally {
    closeSync(fd);
  }
}

/** Opens a regular file for reading; the caller closes it. @throws InputFileError naming the path. */
export function openRegularFile(path: string): number {
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) throw new InputFileError(path, "is a directory, not a .npy file");
    if (!stats.isFile())
      throw new InputFileError(path, "is not a regular file (a FIFO, socket or device cannot be read)");
    return openSync(path, "r");
  } catch (error) {
    throw asInputFileError(error, path);
  }
}

/** The size of an open file; an empty file is an error. */
export function fileSizeOf(fd: number, path: string): number {
  const size = fstatSync(fd).size;
  if (size === 0) throw new InputFileError(path, "is empty, not a .npy file");
  return size;
}

/** Any error of reading `path` as the one-line InputFileError the CLI prints. */
export function asInputFileError(error: unknown, path: string): InputFileError {
  return error instanceof InputFileError ? error : new InputFileError(path, describeFsError(error), { cause: error });
}

/**
 * `readFully` on a libuv thread: the calling thread is free meanwhile, and two files read this way
 * are read side by side. Most of a large read is the kernel filling fresh pages, which two threads
 * do in parallel.
 */
export async function readFullyAsync(fd: number, target: Uint8Array, position: number, path: string): Promise<void> {
  let filled = 0;
  while (filled < target.length) {
    const read = await new Promise<number>((resolve, reject) => {
      fsRead(fd, target, filled, target.length - filled, position + filled, (error, bytesRead) =>
        error ? reject(asInputFileError(error, path)) : resolve(bytesRead),
      );
    });
    if (read === 0) throw endedEarly(path, target.length - filled);
    filled += read;
  }
}

/** Reads of at least this many bytes are copied in (`copyFromFile` says why); smaller ones gain nothing. */
const COPY_MIN_BYTES = 1 << 20;

/**
 * Fills `target` from the file at `position`; a file that shrinks meanwhile is an error. Large reads
 * are copied in by this thread (core/file-copy.ts says why).
 */
export function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  const filled = target.length >= COPY_MIN_BYTES ? copyFromFile(fd, target, position) : readInto(fd, target, position);
  if (filled < target.length) throw endedEarly(path, target.length - filled);
}

/** A range of an open file to read into `target`, with the path its errors name. */
export interface NamedFileRange extends FileRange {
  readonly path: string;
}

/**
 * Reads ranges with two threads where the machine has two cores: this thread copies the first half of
 * their bytes in (`readFully`), while a libuv thread reads the second half straight in. Copying is
 * where fresh memory's page faults are paid, once (core/file-copy.ts); a read straight in pays the
 * kernel's faults on the libuv thread, side by side, and this thread's later, on its first pass over
 * those pages. On S1's input (25 MB) the read and the statistics pass take about 88 ms so, against
 * about 103 copying it all here. `half` (bytes, from the start of the first range) is for tests.
 * @throws InputFileError naming the path of a range that could not be read (the first in order).
 */
export async function readRangesSideBySide(
  ranges: readonly NamedFileRange[],
  half: number = halfToCopy(ranges.reduce((sum, range) => sum + range.target.length, 0)),
): Promise<void> {
  const here: NamedFileRange[] = [];
  const there: NamedFileRange[] = [];
  let before = 0;
  for (const range of ranges) {
    const { length } = range.target;
    if (before + length <= half) here.push(range);
    else if (before >= half) there.push(range);
    else {
      const cut = half - before;
      here.push({ ...range, target: range.target.subarray(0, cut) });
      there.push({ ...range, position: range.position + cut, target: range.target.subarray(cut) });
    }
    before += length;
  }
  // Posted first, so that libuv reads while this thread copies.
  const posted = Promise.allSettled(there.map((r) => readFullyAsync(r.fd, r.target, r.position, r.path)));
  let failure: unknown = null;
  try {
    for (const r of here) readFully(r.fd, r.target, r.position, r.path);
  } catch (error) {
    failure = error;
  }
  const settled = await posted;
  if (failure !== null) throw failure;
  for (const result of settled) if (result.status === "rejected") throw result.reason;
}

const PAGE_BYTES = 4096;

/**
 * The bytes `readRangesSideBySide` copies in with the calling thread: a page-aligned half (the copy
 * and the read then never share a page), or all of them on one core or when there is little to read.
 */
function halfToCopy(total: number): number {
  return availableParallelism() > 1 && total >= 2 * COPY_MIN_BYTES
    ? Math.ceil(total / 2 / PAGE_BYTES) * PAGE_BYTES
    : total;
}

/** The error of a file that ended `missing` bytes before the size it had when it was opened. */
export function endedEarly(path: string, missing: number): InputFileError {
  return new InputFileError(path, `changed while being read (ended ${missing} bytes early)`);
}

/**
 * Reads and parses a JSON file (a suite manifest, a case.json) by the tensor rules: a regular file,
 * not a FIFO or a device (a manifest on /dev/zero would grow without end), and no larger than
 * `maxBytes`, checked before it is read.
 * @throws InputFileError naming the path (missing, special, too large, not valid JSON).
 */
export function readJsonFile(path: string, maxBytes: number): unknown {
  const text = withOpenFile(path, (fd, size) => {
    if (size > maxBytes)
      throw new InputFileError(
        path,
        `is ${size.toLocaleString("en-US")} bytes: more than the ` +
          `${maxBytes.toLocaleString("en-US")} a JSON file of bn-check may have`,
      );
    const bytes = new Uint8Array(size);
    readFully(fd, bytes, 0, path);
    return new TextDecoder().decode(bytes);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputFileError(path, `is not valid JSON (${(error as Error).message})`, { cause: error });
  }
}
