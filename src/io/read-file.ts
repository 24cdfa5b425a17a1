import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { InputFileError } from "../errors.js";

/**
 * Reads a whole regular file, with one clear error per way it can fail (missing, unreadable, a
 * directory, a FIFO or device, empty).
 * @throws InputFileError naming the path.
 */
export function readFileBytes(path: string): Uint8Array {
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
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const read = readSync(fd, bytes, filled, size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    if (filled !== size) throw new InputFileError(path, `changed while being read (expected ${size} bytes, got ${filled})`);
    return bytes;
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(path, describeFsError(error), { cause: error });
  } finally {
    closeSync(fd);
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
  if (code === "EISDIR") return "is a directory, not a .npy file";
  return `cannot be read (${(error as Error)?.message ?? String(error)})`;
}

