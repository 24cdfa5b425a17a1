/**
 * The archive formats bn-check reads, as data: the first whose extension ends a file name claims it.
 * A new format is one module exporting an `ArchiveFormat` and one line here.
 */
import { statSync } from "node:fs";
import type { ArchiveFormat, TensorArchive } from "./archive.js";
import { npzFormat } from "./npz.js";
import { safetensorsFormat } from "./safetensors.js";

export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = [npzFormat, safetensorsFormat];

/** The format that claims this file name, or undefined. */
export function archiveFormatOf(path: string): ArchiveFormat | undefined {
  const lower = path.toLowerCase();
  return ARCHIVE_FORMATS.find((format) => format.extensions.some((extension) => lower.endsWith(extension)));
}

/** `x.npz:name`, `x.safetensors:layer.weight`, `x.h5:bn/gamma` → [file, name]; undefined for a plain file. */
export function splitArchiveSpec(spec: string): [string, string] | undefined {
  const lower = spec.toLowerCase();
  for (const format of ARCHIVE_FORMATS) {
    for (const extension of format.extensions) {
      const at = lower.indexOf(`${extension}:`);
      if (at > 0) return [spec.slice(0, at + extension.length), spec.slice(at + extension.length + 1)];
    }
  }
  return undefined;
}

/**
 * Opens an archive, or returns the one already open if the file has not changed since (same size
 * and modification time). A few are kept: a model needs two or three at once.
 */
const MAX_OPEN = 8;
const opened = new Map<string, { stamp: string; archive: TensorArchive }>();

export function openTensorArchive(path: string, format: ArchiveFormat | undefined = archiveFormatOf(path)): TensorArchive {
  if (format === undefined) throw new Error(`no archive format claims ${path}`);
  let stamp = "";
  try {
    const stats = statSync(path);
    stamp = `${stats.size}:${stats.mtimeMs}:${stats.ino}`;
  } catch {
    // Opening it names the problem.
  }
  const cached = opened.get(path);
  if (cached !== undefined && stamp !== "" && cached.stamp === stamp) return cached.archive;
  const archive = format.open(path);
  opened.delete(path);
  opened.set(path, { stamp, archive });
  if (opened.size > MAX_OPEN) opened.delete(opened.keys().next().value as string);
  return archive;
}
