/**
 * Writes outputs so that nothing is overwritten that should not be and nothing partial is left:
 * - an input is never an output (compared by real path: a symlink to an input is the input);
 * - a regular file (or a new one) is written to a temporary file in its directory and renamed over
 *   the target when complete; several outputs of one command are all written to temporaries first
 *   and renamed together at the end, so a failure leaves none of them;
 * - a target that exists and is not a regular file (a device such as /dev/stdout or /dev/null, a
 *   FIFO, or a symlink to one) is written to in place and never replaced;
 * - an existing regular file needs `force`;
 * - temporaries are removed if the process is interrupted (SIGINT, SIGTERM).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { BnCheckError, InterruptedError } from "../core/errors.js";

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

/** Whether `path` exists and is not a regular file (after following symlinks): it is written in place. */
function isSpecialTarget(path: string): boolean {
  try {
    return !statSync(path).isFile();
  } catch {
    return false;
  }
}

function describeWriteError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOSPC") return "no space left on the device";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ENOENT") return "the directory does not exist";
  if (code === "EFBIG") return "file too large for this process's file-size limit";
  if (code === "EISDIR") return "it is a directory";
  return (error as Error).message;
}

/**
 * Checks a command's outputs before anything is read or computed: no output is an input or another
 * output, an existing regular file needs `force`, a new file's directory exists, and a directory is
 * never a target.
 * @throws OutputFileError naming the file.
 */
export function checkOutputTargets(outputs: readonly string[], inputs: readonly string[], force: boolean): void {
  const inputPaths = new Set(inputs.map(canonical));
  const seen = new Set<string>();
  for (const output of outputs) {
    const path = canonical(output);
    if (inputPaths.has(path))
      throw new OutputFileError(`${output}: is one of the inputs; bn-check never overwrites an input`);
    if (seen.has(path)) throw new OutputFileError(`${output}: named twice as an output`);
    seen.add(path);
    if (existsSync(output)) {
      const stats = statSync(output);
      if (stats.isDirectory()) throw new OutputFileError(`${output}: is a directory`);
      if (stats.isFile() && !force)
        throw new OutputFileError(`${output}: already exists (use --force to overwrite it)`);
    } else if (!existsSync(dirname(resolve(output)))) {
      throw new OutputFileError(`${output}: cannot be written (the directory does not exist); nothing was written`);
    }
  }
}

/** One output: where, and its bytes (or chunks of bytes). */
export interface OutputFile {
  readonly path: string;
  readonly content: Uint8Array | Iterable<Uint8Array>;
}

function chunksOf(content: Uint8Array | Iterable<Uint8Array>): Iterable<Uint8Array> {
  return content instanceof Uint8Array ? [content] : content;
}

/** Writes a chunk completely, in writes of at most 1 GiB (one write call cannot take more than 2 GiB). */
function writeChunk(fd: number, chunk: Uint8Array): void {
  for (let written = 0; written < chunk.length; )
    written += writeSync(fd, chunk, written, Math.min(chunk.length - written, 1 << 30));
}

/**
 * Writes every output, or none: regular targets go to temporaries first, which are renamed over
 * their targets only when all are complete; special targets (devices, FIFOs) are written in place
 * last. Between chunks the event loop runs, so an interruption (`signal`) is seen during a long write.
 * @throws OutputFileError naming the file that could not be written (nothing is left behind).
 * @throws InterruptedError when `signal` aborts (nothing is left behind).
 */
export async function writeOutputs(outputs: readonly OutputFile[], signal?: AbortSignal): Promise<void> {
  const staged: { temporary: string; target: string }[] = [];
  const special: OutputFile[] = [];
  try {
    for (const output of outputs) {
      if (isSpecialTarget(output.path)) {
        special.push(output);
        continue;
      }
      const target = canonical(output.path);
      const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
      pendingTemporaryFiles.add(temporary);
      staged.push({ temporary, target });
      let fd: number | null = null;
      try {
        fd = openSync(temporary, "wx");
        for (const chunk of chunksOf(output.content)) {
          writeChunk(fd, chunk);
          await new Promise((done) => setImmediate(done));
          if (signal?.aborted) throw new InterruptedError("interrupted: nothing was written");
        }
        fsyncSync(fd);
      } catch (error) {
        if (error instanceof InterruptedError) throw error;
        throw new OutputFileError(
          `${output.path}: cannot be written (${describeWriteError(error)}); nothing was written`,
          { cause: error },
        );
      } finally {
        if (fd !== null) closeSync(fd);
      }
    }
    if (signal?.aborted) throw new InterruptedError("interrupted: nothing was written");
    for (const { temporary, target } of staged) {
      renameSync(temporary, target);
      pendingTemporaryFiles.delete(temporary);
    }
  } finally {
    for (const { temporary } of staged) {
      if (pendingTemporaryFiles.delete(temporary)) rmSync(temporary, { force: true });
    }
  }
  for (const output of special) writeInPlace(output);
}

/** Writes to an existing special file (device, FIFO) without replacing it. */
function writeInPlace(output: OutputFile): void {
  let fd: number | null = null;
  try {
    fd = openSync(output.path, "w");
    for (const chunk of chunksOf(output.content)) writeChunk(fd, chunk);
  } catch (error) {
    throw new OutputFileError(`${output.path}: cannot be written (${describeWriteError(error)})`, { cause: error });
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Writes one output by the same rules (a report file). */
export function writeFileAtomic(path: string, content: Uint8Array | Iterable<Uint8Array>): Promise<void> {
  return writeOutputs([{ path, content }]);
}

/** Removes temporary files of writes cut short (on SIGINT and SIGTERM). */
export function removePendingTemporaryFiles(): void {
  for (const path of pendingTemporaryFiles) rmSync(path, { force: true });
  pendingTemporaryFiles.clear();
}
