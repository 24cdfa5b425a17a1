/**
 * Writes files so that a reader never sees a partial one: the bytes go to a temporary file in the
 * same directory, which is renamed over the target only when complete. An existing target is
 * refused unless `force`, an input file is never a target, and a failed write leaves nothing behind.
 */
import { closeSync, existsSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { BnCheckError } from "../errors.js";

export class OutputFileError extends BnCheckError {}

/** Temporary files not yet renamed: removed if the process is interrupted. */
export const pendingTemporaryFiles = new Set<string>();

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Checks a set of outputs before anything is computed: no output may be an input or another
 * output, and an existing file needs `force`.
 * @throws OutputFileError naming the file.
 */
export function checkOutputTargets(outputs: readonly string[], inputs: readonly string[], force: boolean): void {
  const inputPaths = new Set(inputs.map(canonical));
  const seen = new Set<string>();
  for (const output of outputs) {
    const path = canonical(output);
    if (inputPaths.has(path)) throw new OutputFileError(`${output}: is one of the inputs; bn-check never overwrites an input`);
    if (seen.has(path)) throw new OutputFileError(`${output}: named twice as an output`);
    seen.add(path);
    if (existsSync(output) && !force) throw new OutputFileError(`${output}: already exists (use --force to overwrite it)`);
  }
}

/** Writes `content` (bytes, or chunks of bytes) to `path` atomically. */
export function writeFileAtomic(path: string, content: Uint8Array | Iterable<Uint8Array>): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  pendingTemporaryFiles.add(temporary);
  let fd: number | null = null;
  try {
    fd = openSync(temporary, "wx");
    for (const chunk of content instanceof Uint8Array ? [content] : content) {
      // Writes of at most 1 GiB: one write call cannot take more than 2 GiB.
      for (let written = 0; written < chunk.length; ) written += writeSync(fd, chunk, written, Math.min(chunk.length - written, 1 << 30));
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(temporary, path);
  } catch (error) {
    if (fd !== null) closeSync(fd);
    rmSync(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOSPC"
        ? "no space left on the device"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : code === "ENOENT"
            ? "the directory does not exist"
            : code === "EFBIG"
              ? "file too large for this process's file-size limit"
              : (error as Error).message;
    throw new OutputFileError(`${path}: cannot be written (${reason}); nothing was written`, { cause: error });
  } finally {
    pendingTemporaryFiles.delete(temporary);
  }
}

/** Removes temporary files of writes cut short (on SIGINT). */
export function removePendingTemporaryFiles(): void {
  for (const path of pendingTemporaryFiles) rmSync(path, { force: true });
  pendingTemporaryFiles.clear();
}
