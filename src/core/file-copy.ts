/**
 * Copying a byte range of an open file into memory through a small buffer that the calling thread
 * reuses, rather than reading it straight in. Where a page of fresh memory costs a fault the first
 * time user code touches it and again the first time the kernel writes it (the virtual machines
 * bn-check is measured on, where each costs microseconds), a read straight into a fresh tensor pays
 * both: the kernel's faults during read() and the first pass's over the data. The copy pays one, and
 * later passes find the pages ready. Measured on 2 x 25 MB read into fresh memory, then one pass over
 * it: 205–212 ms straight in, 145–170 ms through a 256 KiB buffer (64 KiB 168 ms, 1 MiB 167–170 ms,
 * 4 MiB 188 ms). Where faults are cheap, the copy costs a few milliseconds.
 */
import { readSync } from "node:fs";

/** The copy buffer's size: small enough to stay in L2 between the kernel's copy into it and ours out of it. */
export const COPY_BUFFER_BYTES = 1 << 18;

/** One range of an open file and the (shared) memory it is copied to. */
export interface FileRange {
  readonly fd: number;
  /** Where the range starts in the file. */
  readonly position: number;
  readonly target: Uint8Array;
}

/** A thread's copy buffer (each thread has its own module instance, so its own buffer). */
let copyBuffer: Uint8Array | null = null;

/**
 * Copies `target.length` bytes of the file from `position` into `target` through this thread's copy
 * buffer; returns the bytes copied, fewer only when the file ended first (it shrank meanwhile).
 */
export function copyFromFile(fd: number, target: Uint8Array, position: number): number {
  copyBuffer ??= new Uint8Array(COPY_BUFFER_BYTES);
  const buffer = copyBuffer;
  let filled = 0;
  while (filled < target.length) {
    const read = readSync(fd, buffer, 0, Math.min(buffer.length, target.length - filled), position + filled);
    if (read === 0) return filled;
    target.set(read === buffer.length ? buffer : buffer.subarray(0, read), filled);
    filled += read;
  }
  return filled;
}

/**
 * Reads `target.length` bytes of the file from `position` straight into `target`; returns the bytes
 * read, fewer only when the file ended first.
 */
export function readInto(fd: number, target: Uint8Array, position: number): number {
  let filled = 0;
  while (filled < target.length) {
    const read = readSync(fd, target, filled, target.length - filled, position + filled);
    if (read === 0) break;
    filled += read;
  }
  return filled;
}
