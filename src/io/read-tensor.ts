/**
 * One entry point for every tensor source bn-check accepts, chosen by the file name:
 * `x.npy`; an archive (archive-formats.ts: `x.npz`, `x.safetensors`, …) with `:name`, or alone when
 * it holds one tensor; `x.pb` (an ONNX TensorProto).
 */
import { statSync } from "node:fs";
import { deferredTensor, type DeferredTensor, type Tensor } from "../core/tensor.js";
import { readNpy, startNpyRead, type NpyRead } from "./npy/read-npy.js";
import type { FileRange } from "../core/file-copy.js";
import { readFileBytes, readFully, readRangesSideBySide, withOpenFile, type NamedFileRange } from "./read-file.js";
import { InputFileError } from "../core/errors.js";
import { npyLayoutOf, npyPreambleLength } from "./npy/read-npy.js";
import { parseTensorProtoBytes } from "./tensor-proto.js";
import { onlyTensorName } from "./archive.js";
import { archiveFormatOf, openTensorArchive, splitArchiveSpec } from "./archive-formats.js";

/** The file a tensor spec reads (`x.npz:name` → `x.npz`). */
export function tensorSpecFile(spec: string): string {
  return splitArchiveSpec(spec)?.[0] ?? spec;
}

/**
 * The size in bytes of a tensor spec's data: the file's size, or for an archive member what the
 * archive's index states (0 when it cannot be read or the index does not say: reading it says why).
 */
export function tensorFileBytes(spec: string): number {
  try {
    const member = splitArchiveSpec(spec);
    if (member !== undefined) return openTensorArchive(member[0]).byteLength?.(member[1]) ?? 0;
    return statSync(spec).size;
  } catch {
    return 0;
  }
}

export function readTensor(spec: string): Tensor {
  const member = splitArchiveSpec(spec);
  if (member !== undefined) return openTensorArchive(member[0]).read(member[1]);
  const format = archiveFormatOf(spec);
  if (format !== undefined) {
    const archive = openTensorArchive(spec, format);
    return archive.read(onlyTensorName(archive, format.items));
  }
  if (/\.pb$/i.test(spec)) return parseTensorProtoBytes(readFileBytes(spec), spec);
  return readNpy(spec);
}

/**
 * Fills file ranges on several threads (the pool's `fillOnPool`, given by the layer that owns the
 * threads), or returns null to leave the reading to `readTensorsConcurrently`.
 */
export type RangeFiller = (ranges: readonly FileRange[]) => Promise<{ readonly endedEarly: number }> | null;

/**
 * Reads several tensor files at once. The headers of .npy files are read and checked first, then
 * their data: by `fill` when it takes the ranges (every thread of the pool copying them in), else by
 * this thread and a libuv thread side by side (`readRangesSideBySide`: this thread copies the first
 * half of the bytes in, libuv reads the rest). Archive members are read on libuv threads where their
 * format can (`readAsync`: safetensors, stored .npz members), the others as `readTensor` does. On
 * failure, the error of the first failing spec in order is thrown, as reading them one after the
 * other would.
 */
export async function readTensorsConcurrently(
  specs: readonly (string | undefined)[],
  fill?: RangeFiller,
): Promise<(Tensor | undefined)[]> {
  const reads: Promise<Tensor | undefined>[] = [];
  const started: { readonly index: number; readonly read: NpyRead }[] = [];
  for (const [index, spec] of specs.entries()) {
    if (spec === undefined) reads.push(Promise.resolve(undefined));
    else if (isPlainNpy(spec)) {
      try {
        started.push({ index, read: startNpyRead(spec) });
        reads.push(Promise.resolve(undefined)); // replaced below
      } catch (error) {
        reads.push(Promise.reject(error));
      }
    } else reads.push(readTensorAsync(spec));
  }
  const pending = started.filter(({ read }) => read.range !== undefined);
  const filled = fill?.(pending.map(({ read }) => read.range as FileRange)) ?? null;
  const done =
    filled !== null
      ? finishFill(filled, pending)
      : readSideBySide(
          pending.map(({ index, read }) => ({ ...(read.range as FileRange), path: specs[index] as string, read })),
        );
  for (const { index, read } of started) reads[index] = done.then(() => read.tensor);
  const settled = await Promise.allSettled(reads);
  for (const result of settled) if (result.status === "rejected") throw result.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<Tensor | undefined>).value);
}

/**
 * Waits for a fill and closes the files. A range whose file ended early (it shrank while read) is
 * read again here, which says how (or completes it, if the file is whole again).
 */
async function finishFill(
  filled: Promise<{ readonly endedEarly: number }>,
  pending: readonly { readonly read: NpyRead }[],
): Promise<void> {
  let ended = -1;
  try {
    ended = (await filled).endedEarly;
  } finally {
    for (const [index, { read }] of pending.entries()) if (index !== ended) read.close();
  }
  if (ended >= 0) pending[ended].read.finish();
}

/** The ranges read by this thread and libuv side by side (`readRangesSideBySide`), then the files closed. */
async function readSideBySide(ranges: readonly (NamedFileRange & { readonly read: NpyRead })[]): Promise<void> {
  try {
    await readRangesSideBySide(ranges);
  } finally {
    for (const { read } of ranges) read.close();
  }
}

/** A spec that names a .npy file (not an archive member, an archive or a TensorProto). */
function isPlainNpy(spec: string): boolean {
  return splitArchiveSpec(spec) === undefined && archiveFormatOf(spec) === undefined && !/\.pb$/i.test(spec);
}

/** `readTensor` with the bulk data read on libuv's threads where the format allows it. */
async function readTensorAsync(spec: string): Promise<Tensor> {
  const member = splitArchiveSpec(spec);
  if (member !== undefined) {
    const archive = openTensorArchive(member[0]);
    return archive.readAsync === undefined ? archive.read(member[1]) : archive.readAsync(member[1]);
  }
  return readTensor(spec);
}

/**
 * A tensor whose values stay in their file until they are needed (core/tensor.ts, DeferredTensor),
 * for a .npy file of little-endian C-order float32 or float64 values whose header reads and checks
 * as `readTensor` checks it; null for any other spec or header (`readTensor` reads it, or says what
 * is wrong).
 */
export function deferredNpy(spec: string): DeferredTensor | null {
  const head = isPlainNpy(spec) ? npyHeadOf(spec) : undefined;
  const dtype = head?.layout.descr.dtype;
  if (head === undefined || !head.layout.direct || (dtype !== "float32" && dtype !== "float64")) return null;
  const { layout, size } = head;
  const source = { path: spec, position: layout.dataOffset, dtype };
  const itemSize = dtype === "float64" ? 8 : 4;
  return deferredTensor(
    dtype,
    layout.header.shape,
    source,
    () =>
      withOpenFile(spec, (fd, now) => {
        if (now !== size)
          throw new InputFileError(spec, `changed while being read (${size} bytes when opened, ${now} now)`);
        // Not in the tensor arena (deferredTensor says why): a SharedArrayBuffer of its own.
        const bytes = new SharedArrayBuffer(layout.count * itemSize);
        readFully(fd, new Uint8Array(bytes), source.position, spec);
        return dtype === "float64" ? new Float64Array(bytes) : new Float32Array(bytes);
      }),
    (index) =>
      withOpenFile(spec, (fd) => {
        const bytes = new Uint8Array(itemSize);
        readFully(fd, bytes, source.position + index * itemSize, spec);
        const view = new DataView(bytes.buffer);
        return itemSize === 8 ? view.getFloat64(0, true) : view.getFloat32(0, true);
      }),
  );
}

/**
 * A .npy file's layout from its header alone, with the file's size; undefined where the header is
 * not all in the first 64 KiB or does not parse (reading the file says why).
 */
function npyHeadOf(
  spec: string,
): { readonly layout: ReturnType<typeof npyLayoutOf>; readonly size: number } | undefined {
  try {
    return withOpenFile(spec, (fd, size) => {
      const head = new Uint8Array(Math.min(size, 1 << 16));
      readFully(fd, head, 0, spec);
      const needed = npyPreambleLength(head);
      if (needed === null || needed > head.length) return undefined;
      return { layout: npyLayoutOf(head.subarray(0, needed), size, spec), size };
    });
  } catch {
    return undefined;
  }
}

/**
 * A tensor spec's dtype and shape from its header alone (a .npy file, an .npz member), or undefined
 * where that is not cheap or the header does not parse (reading it then says why).
 */
export function peekTensor(
  spec: string | undefined,
): { readonly dtype: Tensor["dtype"]; readonly shape: readonly number[] } | undefined {
  if (spec === undefined) return undefined;
  try {
    const member = splitArchiveSpec(spec);
    if (member !== undefined) return openTensorArchive(member[0]).peek?.(member[1]);
    if (archiveFormatOf(spec) !== undefined || /\.pb$/i.test(spec)) return undefined;
    const head = npyHeadOf(spec);
    return head === undefined ? undefined : { dtype: head.layout.descr.dtype, shape: head.layout.header.shape };
  } catch {
    return undefined;
  }
}

/** A tensor file as reports list it. */
export interface LoadedFile {
  readonly role: string;
  readonly path: string;
  readonly dtype: Tensor["dtype"];
  readonly shape: readonly number[];
}

/**
 * Returns a loader that reads optional tensor files and records each one in `files` (for the
 * report's file list): `load(role, undefined)` is `undefined`. Tensors already read (by role, in
 * `preloaded`) are recorded without reading them again.
 */
export function tensorLoader(
  files: LoadedFile[],
  preloaded: ReadonlyMap<string, Tensor> = new Map(),
): (role: string, path: string | undefined) => Tensor | undefined {
  return (role, path) => {
    if (path === undefined) return undefined;
    const tensor = preloaded.get(role) ?? readTensor(path);
    files.push({ role, path, dtype: tensor.dtype, shape: tensor.shape });
    return tensor;
  };
}
