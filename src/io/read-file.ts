import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { InputFileError } from "../errors.js";

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
  let fd: number;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) throw new InputFileError(path, "is a directory, not a .npy file");
    if (!stats.isFile()) throw new InputFileError(path, "is not a regular file (a FIFO, socket or device cannot be read as a tensor)");
    fd = openSync(path, "r");
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(path, describeFsError(error), { cause: error });
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) throw new InputFileError(path, "is empty, not a .npy file");
    return use(fd, size);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(path, describeFsError(error), { cause: error });
  } finally {
    closeSync(fd);
  }
}

/** Fills `target` from the file at `position`; a file that shrinks meanwhile is an error. */
export function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  let filled = 0;
  while (filled < target.length) {
    const read = readSync(fd, target, filled, target.length - filled, position + filled);
    if (read === 0) throw new InputFileError(path, `changed while being read (ended ${target.length - filled} bytes early)`);
    filled += read;
  }
}
