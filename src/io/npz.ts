/**
 * Reads arrays from .npz archives (np.savez and np.savez_compressed: a zip of .npy members) with
 * fflate, a maintained zip implementation, then validates each member like any .npy file.
 */
import { createRequire } from "node:module";
import { InputFileError } from "../errors.js";
import { parseNpyBytes } from "../npy/read-npy.js";
import type { Tensor } from "../npy/tensor.js";
import { readFileBytes } from "../fs/read-file.js";
import { listSome } from "../numeric/format.js";

/**
 * @param member - the array name (`x` for the member `x.npy`); optional when the archive holds one array.
 */
// Loaded on first use: a CLI run that reads no .npz does not pay for it.
const require = createRequire(import.meta.url);
let fflate: typeof import("fflate") | null = null;

export function readNpz(path: string, member?: string): Tensor {
  const bytes = readFileBytes(path);
  let entries: Record<string, Uint8Array>;
  try {
    fflate ??= require("fflate") as typeof import("fflate");
    entries = fflate.unzipSync(bytes);
  } catch (error) {
    throw new InputFileError(path, `is not a readable .npz (zip) archive (${(error as Error).message})`, { cause: error });
  }
  const names = Object.keys(entries)
    .filter((name) => name.endsWith(".npy"))
    .map((name) => name.slice(0, -4));
  if (names.length === 0) throw new InputFileError(path, "holds no .npy arrays");
  let chosen: string;
  if (member === undefined) {
    if (names.length > 1) throw new InputFileError(path, `holds ${names.length} arrays (${listSome(names)}): name one as ${path}:<name>`);
    chosen = names[0];
  } else {
    if (!names.includes(member)) throw new InputFileError(`${path}:${member}`, `no array '${member}' in the archive (it holds ${listSome(names)})`);
    chosen = member;
  }
  return parseNpyBytes(entries[`${chosen}.npy`], `${path}:${chosen}`);
}
