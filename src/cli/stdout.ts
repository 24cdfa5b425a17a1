/**
 * The CLI's standard output. A report bound for a pipe or a file is written to descriptor 1 directly,
 * as Node's own stream would write it there (synchronously on Linux); `process.stdout` is created only
 * for a terminal, or when a direct write cannot go on. Creating it for a pipe loads node:net and the
 * stream machinery, 4 ms of a small `compare --format json | jq`'s start.
 */
import { fstatSync, writeSync } from "node:fs";

let stream: NodeJS.WriteStream | null = null;
/** Whether descriptor 1 takes direct writes: undefined until the first write asks. */
let direct: boolean | undefined;

/**
 * `process.stdout`, set up once: a reader that stops early (`bn-check compare --help | head`) closes
 * the pipe, and the rest of the output has nowhere to go, which is no error of bn-check's (unheard,
 * Node would crash with a stack trace). The exit code stays the check's.
 */
export function stdoutStream(): NodeJS.WriteStream {
  if (stream === null) {
    stream = process.stdout;
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });
  }
  return stream;
}

/** A pipe, a socket or a regular file: what `process.stdout` itself writes synchronously (on Linux). */
function takesDirectWrites(): boolean {
  if (direct === undefined) {
    try {
      const stats = fstatSync(1);
      direct = stats.isFIFO() || stats.isSocket() || stats.isFile();
    } catch {
      direct = false; // Descriptor 1 closed: Node's stream knows what to do with that.
    }
  }
  return direct;
}

/** Whether standard output is a terminal (a pipe or a file is known not to be without loading node:tty). */
export function stdoutIsTerminal(): boolean {
  return !takesDirectWrites() && stdoutStream().isTTY === true;
}

/** Writes `text` to standard output, in order with everything written before. */
export function writeStdout(text: string): void {
  if (stream !== null || !takesDirectWrites()) {
    stdoutStream().write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      // The reader closed the pipe: as with the stream, the rest is dropped and the exit code stays.
      if ((error as NodeJS.ErrnoException).code === "EPIPE") return;
      // EAGAIN (a non-blocking pipe shared with a parent process) or anything else: the stream queues
      // what is left, and every later write goes through it, after this one.
      stdoutStream().write(bytes.subarray(written));
      return;
    }
  }
}
