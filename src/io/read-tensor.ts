/**
 * One entry point for every tensor source bn-check accepts, chosen by the file name:
 * `x.npy`; `x.npz` (its only array) or `x.npz:name`; `x.safetensors` (its only tensor) or
 * `x.safetensors:name`; `x.pb` (an ONNX TensorProto).
 */
import { statSync } from "node:fs";
import type { Tensor } from "../npy/tensor.js";
import { readNpy, readNpyAsync } from "../npy/read-npy.js";
import { readNpz } from "./npz.js";
import { readSafetensors } from "./safetensors.js";
import { readFileBytes } from "../fs/read-file.js";
import { parseTensorProtoBytes } from "./tensor-proto.js";

const NPZ_MEMBER = /^(.*\.npz):([^:/\\]+)$/i;
/** safetensors keys are module paths (`layer1.0.bn1.running_mean`), so anything after the colon. */
const SAFETENSORS_MEMBER = /^(.*?\.safetensors):(.+)$/i;

/** The file a tensor spec reads (`x.npz:name` → `x.npz`). */
export function tensorSpecFile(spec: string): string {
  return NPZ_MEMBER.exec(spec)?.[1] ?? SAFETENSORS_MEMBER.exec(spec)?.[1] ?? spec;
}

/** The size in bytes of the file a tensor spec names (0 when it cannot be read: reading it says why). */
export function tensorFileBytes(spec: string): number {
  try {
    return statSync(tensorSpecFile(spec)).size;
  } catch {
    return 0;
  }
}

export function readTensor(spec: string): Tensor {
  const member = NPZ_MEMBER.exec(spec);
  if (member !== null) return readNpz(member[1], member[2]);
  if (/\.npz$/i.test(spec)) return readNpz(spec);
  const tensor = SAFETENSORS_MEMBER.exec(spec);
  if (tensor !== null) return readSafetensors(tensor[1], tensor[2]);
  if (/\.safetensors$/i.test(spec)) return readSafetensors(spec);
  if (/\.pb$/i.test(spec)) return parseTensorProtoBytes(readFileBytes(spec), spec);
  return readNpy(spec);
}

/**
 * Reads several tensor files at once: the .npy ones with their bulk data on libuv threads side by
 * side (`readNpyAsync`), the others as `readTensor` does. On failure, the error of the first failing
 * spec in order is thrown, as reading them one after the other would.
 */
export async function readTensorsConcurrently(specs: readonly (string | undefined)[]): Promise<(Tensor | undefined)[]> {
  const reads = specs.map((spec) => (spec === undefined ? Promise.resolve(undefined) : isPlainNpy(spec) ? readNpyAsync(spec) : Promise.resolve().then(() => readTensor(spec))));
  const settled = await Promise.allSettled(reads);
  for (const result of settled) if (result.status === "rejected") throw result.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<Tensor | undefined>).value);
}

function isPlainNpy(spec: string): boolean {
  return NPZ_MEMBER.exec(spec) === null && SAFETENSORS_MEMBER.exec(spec) === null && !/\.(npz|pb|safetensors)$/i.test(spec);
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
export function tensorLoader(files: LoadedFile[], preloaded: ReadonlyMap<string, Tensor> = new Map()): (role: string, path: string | undefined) => Tensor | undefined {
  return (role, path) => {
    if (path === undefined) return undefined;
    const tensor = preloaded.get(role) ?? readTensor(path);
    files.push({ role, path, dtype: tensor.dtype, shape: tensor.shape });
    return tensor;
  };
}
