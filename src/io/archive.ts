/**
 * A file that holds named tensors (safetensors, .npz, PyTorch .pt, Keras .h5/.keras, Polygraphy
 * results): its index is read and checked once, then tensors are read by name. `readTensor`'s
 * `file:name` specs and `bn-check model` both go through archive-formats.ts, so a file that is asked
 * for many tensors (a model's parameters and activations) has its index parsed once per process.
 */
import { InputFileError } from "../core/errors.js";
import type { Tensor } from "../core/tensor.js";
import { listSome } from "../core/format.js";

export interface TensorArchive {
  readonly path: string;
  /** The tensor names, in the file's order. */
  readonly names: readonly string[];
  /** A floating-point tensor. @throws InputFileError naming `path:name` and the problem. */
  read(name: string): Tensor;
  /**
   * A scalar integer tensor (`num_batches_tracked`): integers are refused by `read`, being no
   * BatchNorm data, and accepted only here, where an integer is meant.
   */
  readInteger(name: string): number;
  /**
   * `read` with the bulk data read on libuv's threads (several reads side by side, or a read beside
   * a computation); formats without it are read with `read`.
   */
  readAsync?(name: string): Promise<Tensor>;
  /**
   * The bytes a tensor's data takes in the file, where the index states it without reading: how
   * much work a tensor is (whether to start the worker pool before reading it). Undefined: unknown.
   */
  byteLength?(name: string): number | undefined;
  /**
   * A member's dtype and shape from its header alone, where the format allows it cheaply (a few kB
   * read), so that a tensor that cannot match is not read: undefined when unknown.
   */
  peek?(name: string): { readonly dtype: Tensor["dtype"]; readonly shape: readonly number[] } | undefined;
  /** Entries that hold no tensor (a checkpoint's epoch, args, numpy scalars), by path: for --debug. */
  readonly skipped?: readonly string[];
}

/** One kind of archive: which file names it claims and how to open them. */
export interface ArchiveFormat {
  readonly label: string;
  readonly extensions: readonly string[];
  /** What its tensors are called in messages ("arrays" for .npz). */
  readonly items?: string;
  open(path: string): TensorArchive;
}

/** The name to read when none is given: the archive's only tensor. */
export function onlyTensorName(archive: TensorArchive, what = "tensors"): string {
  if (archive.names.length === 1) return archive.names[0];
  if (archive.names.length === 0) throw new InputFileError(archive.path, `holds no ${what}`);
  throw new InputFileError(
    archive.path,
    `holds ${archive.names.length} ${what} (${listSome(archive.names)}): name one as ${archive.path}:<name>`,
  );
}

/** `name` if the archive holds it. @throws InputFileError listing what it holds. */
export function checkedName(archive: TensorArchive, name: string, what = "tensor", container = "file"): string {
  if (archive.names.includes(name)) return name;
  throw new InputFileError(
    `${archive.path}:${name}`,
    `no ${what} '${name}' in the ${container} (it holds ${listSome(archive.names)})`,
  );
}
