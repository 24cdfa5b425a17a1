/**
 * The archive formats bn-check reads, as data: the first whose extension ends a file name claims it.
 * A new format is one module exporting an `ArchiveFormat` and one line here.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { ArchiveFormat, TensorArchive } from "./archive.js";
import { kerasFormat } from "./keras.js";
import { npzFormat } from "./npz.js";
import { polygraphyFormat } from "./polygraphy.js";
import { safetensorsFormat } from "./safetensors.js";
import { torchFormat } from "./torch-pt.js";

export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = [
  npzFormat,
  safetensorsFormat,
  torchFormat,
  kerasFormat,
  polygraphyFormat,
];

/** The format that claims this file: by its extension, else by its content (see `formatByContent`). */
export function archiveFormatOf(path: string): ArchiveFormat | undefined {
  const lower = path.toLowerCase();
  return (
    ARCHIVE_FORMATS.find((format) => format.extensions.some((extension) => lower.endsWith(extension))) ??
    formatByContent(path)
  );
}

/**
 * A checkpoint is a torch.save zip whatever it is called: Lightning's `epoch=3.ckpt`, Hugging Face's
 * `pytorch_model.bin`, the ImageNet example's `checkpoint.pth.tar`. A file no extension claims is
 * opened as PyTorch when it starts as a zip holding `<dir>/data.pkl` in its first kilobytes of names
 * (torch.save writes data.pkl first) or as the legacy torch.save format (which the reader names);
 * nothing else is guessed.
 */
function formatByContent(path: string): ArchiveFormat | undefined {
  let head: Uint8Array;
  try {
    if (!statSync(path).isFile()) return undefined;
    const fd = openSync(path, "r");
    try {
      head = new Uint8Array(512);
      head = head.subarray(0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const zip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  if (zip) {
    // The first local header's name: bytes 30 .. 30 + name length.
    const nameLength = head[26] | (head[27] << 8);
    const name = new TextDecoder("latin1").decode(head.subarray(30, 30 + nameLength));
    return /^[^/]+\/data\.pkl$/.test(name) ? torchFormat : undefined;
  }
  const legacy = head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a && head[3] === 0x0a;
  return legacy ? torchFormat : undefined;
}

/**
 * `x.npz:name`, `x.safetensors:layer.weight`, `x.h5:bn/gamma` → [file, name]; undefined for a plain
 * file. An existing file is never split (`epoch=3:best.ckpt` is a file); otherwise the split is where
 * the part before a colon is an existing file that an archive format claims (`epoch=3.ckpt:layer1.0.bn1.weight`).
 */
export function splitArchiveSpec(spec: string): [string, string] | undefined {
  if (isFile(spec)) return undefined;
  const lower = spec.toLowerCase();
  for (const format of ARCHIVE_FORMATS) {
    for (const extension of format.extensions) {
      const at = lower.indexOf(`${extension}:`);
      if (at > 0) return [spec.slice(0, at + extension.length), spec.slice(at + extension.length + 1)];
    }
  }
  for (let at = spec.indexOf(":"); at > 0; at = spec.indexOf(":", at + 1)) {
    const file = spec.slice(0, at);
    if (isFile(file) && formatByContent(file) !== undefined) return [file, spec.slice(at + 1)];
  }
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Opens an archive, or returns the one already open if the file has not changed since (same size
 * and modification time). A few are kept: a model needs two or three at once.
 */
const MAX_OPEN = 8;
const opened = new Map<string, { stamp: string; archive: TensorArchive }>();

export function openTensorArchive(
  path: string,
  format: ArchiveFormat | undefined = archiveFormatOf(path),
): TensorArchive {
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
