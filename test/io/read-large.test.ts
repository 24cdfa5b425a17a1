// Large reads: copied in through the reading thread's buffer (core/file-copy.ts) and, with the pool
// running, by every thread (parallel/fill.ts). The values must be the file's, bit for bit, whoever
// copied which chunk, and a file that shrinks meanwhile must fail with its name.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { closePool, parseNpyBytes, readNpy, tensorFromArray, writeNpy } from "../../dist/index.js";
import { readTensorsConcurrently } from "../../dist/io/read-tensor.js";
import { readRangesSideBySide } from "../../dist/io/read-file.js";
import { fillOnPool, FILL_POOL_MIN_BYTES } from "../../dist/parallel/fill.js";
import { prewarmPool } from "../../dist/parallel/pool.js";
import type { FileRange } from "../../dist/core/file-copy.js";
import { normals, seededRandom } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "bn-check-large-read-"));
afterAll(async () => {
  await closePool();
  rmSync(dir, { recursive: true, force: true });
});

/** A float32 .npy file of `count` values (3.2 MB for 800 000), several copy buffers long and not a multiple of one. */
function write(name: string, count: number, seed: number): string {
  const path = join(dir, `${name}.npy`);
  writeNpy(path, tensorFromArray(normals(seededRandom(seed), count), [count / 8, 8], "float32"));
  return path;
}

const bitsOf = (values: Float32Array | Float64Array) =>
  Buffer.from(values.buffer, values.byteOffset, values.byteLength);
const fromBytes = (path: string) => bitsOf(parseNpyBytes(new Uint8Array(readFileSync(path)), path).data);

describe("large reads", () => {
  const files = [write("a", 800_000, 1), write("b", 800_000 + 8 * 1001, 2), write("c", 800_000, 3)];

  it("copy the file's values, in this thread and on libuv threads side by side", async () => {
    for (const path of files) expect(bitsOf(readNpy(path).data).equals(fromBytes(path))).toBe(true);
    const tensors = await readTensorsConcurrently(files);
    for (const [k, path] of files.entries()) expect(bitsOf(tensors[k]!.data).equals(fromBytes(path))).toBe(true);
  });

  it("are read by this thread and libuv side by side, the split anywhere (within a range, between two, none)", async () => {
    const opened = files.map((path) => ({ path, fd: openSync(path, "r"), bytes: fromBytes(path) }));
    try {
      const total = opened.reduce((sum, file) => sum + file.bytes.length, 0);
      for (const half of [0, 4096, opened[0].bytes.length, opened[0].bytes.length + 12_288, total - 4096, total]) {
        const targets = opened.map((file) => new Uint8Array(new SharedArrayBuffer(file.bytes.length)));
        await readRangesSideBySide(
          opened.map((file, k) => ({ fd: file.fd, path: file.path, position: 128, target: targets[k] })),
          half,
        );
        for (const [k, file] of opened.entries()) expect(Buffer.from(targets[k].buffer).equals(file.bytes)).toBe(true);
      }
      // A file that ends early in libuv's half fails with its name.
      const short = new Uint8Array(new SharedArrayBuffer(opened[2].bytes.length + 8192));
      await expect(
        readRangesSideBySide([{ fd: opened[2].fd, path: opened[2].path, position: 128, target: short }], 4096),
      ).rejects.toThrow(/c\.npy: changed while being read \(ended 8192 bytes early\)/);
    } finally {
      for (const file of opened) closeSync(file.fd);
    }
  });

  it("are copied by the pool's workers, chunk by chunk, when the pool runs", async () => {
    prewarmPool(2);
    let units: readonly number[] = [];
    const tensors = await readTensorsConcurrently(files, (ranges: readonly FileRange[]) => {
      expect(ranges.reduce((sum, range) => sum + range.target.length, 0)).toBeGreaterThanOrEqual(FILL_POOL_MIN_BYTES);
      // The calling thread claims nothing: the worker copies every chunk.
      return (
        fillOnPool(ranges, { threads: 2, callerClaims: false })?.then((result) => {
          units = result.unitsByThread;
          return result;
        }) ?? null
      );
    });
    expect(units[0]).toBe(0);
    expect(units[1]).toBeGreaterThan(0);
    for (const [k, path] of files.entries()) expect(bitsOf(tensors[k]!.data).equals(fromBytes(path))).toBe(true);
  });

  it("fail with the file's name when a file shrinks while the pool copies it", async () => {
    prewarmPool(2);
    const shrinking = [write("d", 800_000, 4), write("e", 800_000, 5), write("f", 800_000, 6)];
    const read = readTensorsConcurrently(shrinking, (ranges: readonly FileRange[]) => {
      truncateSync(shrinking[1], 1_000_000);
      return fillOnPool(ranges, { threads: 2, callerClaims: false });
    });
    await expect(read).rejects.toThrow(/e\.npy: changed while being read \(ended \d+ bytes early\)/);
  });
});
