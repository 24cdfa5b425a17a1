// Streamed passes (src/parallel/stream.ts): an input and a reference left in their .npy files and read
// unit by unit must give the report the tensors in memory give, bit for bit, on every thread and
// geometry, stay unread when nothing else needs them, and fail with the file's name when a file shrinks.
// Runs against the compiled package, so that the pool's workers run the same code.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkBatchNorm, closePool, readNpy, tensorFromArray, withTensorArena, writeNpy } from "../../dist/index.js";
import { deferredNpy } from "../../dist/io/read-tensor.js";

/** A .npy file left where it is (the tests' files always can be). */
const readTensorDeferred = (path: string) => deferredNpy(path) as DeferredTensor;
import { planUnits } from "../../dist/kernel/units.js";
import { streamsUnits } from "../../dist/parallel/stream.js";
import type { DeferredTensor, Tensor } from "../../dist/core/tensor.js";
import { normals, seededRandom } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "bn-check-stream-"));
afterAll(async () => {
  await closePool();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * An input and a reference of `shape` written as .npy files: the reference is the input normalised
 * per channel (axis 1) in float64 and rounded, with a few faults (a large error, NaN, an infinity),
 * so that every report field (histogram, maxima, worst list, failing channels) has something in it.
 */
function writeCase(name: string, shape: number[], dtype: "float32" | "float64", seed: number) {
  const count = shape.reduce((a, b) => a * b, 1);
  const channels = shape[1];
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const x = normals(seededRandom(seed), count, 0.5, 2);
  const sums = new Float64Array(channels);
  const squares = new Float64Array(channels);
  for (let i = 0; i < count; i++) sums[Math.floor(i / inner) % channels] += x[i];
  const n = count / channels;
  for (let i = 0; i < count; i++) {
    const c = Math.floor(i / inner) % channels;
    squares[c] += (x[i] - sums[c] / n) ** 2;
  }
  const y = x.map((v, i) => {
    const c = Math.floor(i / inner) % channels;
    return (v - sums[c] / n) / Math.sqrt(squares[c] / n + 1e-5);
  });
  const noise = seededRandom(seed + 1);
  for (let k = 0; k < 5; k++) y[Math.floor(noise() * count)] += 0.5;
  y[Math.floor(noise() * count)] = Number.NaN;
  y[Math.floor(noise() * count)] = Number.POSITIVE_INFINITY;
  const input = join(dir, `${name}-input.npy`);
  const reference = join(dir, `${name}-ref.npy`);
  writeNpy(input, tensorFromArray(x, shape, "float32"));
  writeNpy(reference, tensorFromArray(y, shape, dtype));
  return { input, reference };
}

/** What a check reports that the passes compute: the output comparison and the batch statistics. */
async function outputOf(input: Tensor, reference: Tensor, options: Record<string, unknown>) {
  const result = await checkBatchNorm({ input, reference }, { framework: "torch", mode: "train", ...options });
  return {
    output: JSON.stringify({
      output: result.output,
      mean: Array.from(result.batchMean ?? []),
      variance: Array.from(result.batchVariance ?? []),
    }),
    units: result.timings.unitsByThread,
  };
}

const POOLED = { threads: 2, parallelThreshold: 0, chunksPerThread: 32, callerClaims: false };

describe("tensors streamed from their files", () => {
  const geometries: [string, number[], "float32" | "float64"][] = [
    // Units of one row each (8 units), of several rows each (4), of part of a row (inner wider than
    // a unit), of rows of channels-last data (inner 1), a single unit, and a float64 reference.
    ["nchw", [8, 6, 40, 40], "float32"],
    ["several rows per unit", [256, 3, 8, 8], "float32"],
    ["inner wider than a unit", [2, 2, 20_000], "float32"],
    ["channels-last rows", [5000, 16], "float32"],
    ["tiny", [2, 3, 2, 2], "float32"],
    ["float64 reference", [6, 5, 40, 40], "float64"],
  ];
  for (const [name, shape, dtype] of geometries) {
    it(`${name} (${shape.join("x")}, ${dtype}): the in-memory report, bit for bit, in one thread and on workers alone`, async () => {
      const files = writeCase(name.replaceAll(" ", "-"), shape, dtype, shape.length * 7 + shape[0]);
      const grid = planUnits({ outer: shape[0], channels: shape[1], inner: shape.slice(2).reduce((a, b) => a * b, 1) });
      if (name === "tiny") expect(grid.unitCount).toBe(1);
      else expect(grid.unitCount).toBeGreaterThan(1);
      expect(streamsUnits(grid)).toBe(true);
      await withTensorArena(async () => {
        const inMemory = await outputOf(readNpy(files.input), readNpy(files.reference), { threads: 1 });
        expect(JSON.parse(inMemory.output).output.mismatches).toBeGreaterThan(0);
        // The input, the reference, or both left in their files.
        for (const streamed of ["input", "reference", "both"]) {
          const input = streamed === "reference" ? readNpy(files.input) : readTensorDeferred(files.input);
          const reference = streamed === "input" ? readNpy(files.reference) : readTensorDeferred(files.reference);
          const here = await outputOf(input, reference, { threads: 1 });
          expect(here.output).toBe(inMemory.output);
          // The calling thread claims nothing: the worker streams every unit.
          const pooled = await outputOf(input, reference, POOLED);
          expect(pooled.units.compare[0]).toBe(0);
          expect(pooled.units.compare[1]).toBeGreaterThan(0);
          expect(pooled.output).toBe(inMemory.output);
          // Nothing read a streamed tensor whole.
          for (const tensor of [input, reference])
            if ("loaded" in tensor) expect((tensor as DeferredTensor).loaded).toBe(false);
        }
      });
    });
  }

  it("is read whole, and compared in memory, where a unit is not one run of the file (wide channels-last rows)", async () => {
    // inner 1 and 20000 channels: a unit holds several rows of part of the channels.
    const files = writeCase("wide-rows", [8, 20_000], "float32", 3);
    expect(streamsUnits(planUnits({ outer: 8, channels: 20_000, inner: 1 }))).toBe(false);
    await withTensorArena(async () => {
      const input = readNpy(files.input);
      const inMemory = await outputOf(input, readNpy(files.reference), { threads: 1 });
      const deferredInput = readTensorDeferred(files.input) as DeferredTensor;
      const deferred = readTensorDeferred(files.reference) as DeferredTensor;
      expect((await outputOf(deferredInput, deferred, { threads: 1 })).output).toBe(inMemory.output);
      expect(deferredInput.loaded).toBe(true);
      expect(deferred.loaded).toBe(true);
    });
  });

  it("reads single values and the whole tensor as readNpy does", () => {
    const files = writeCase("values", [2, 3, 5, 5], "float32", 11);
    const whole = readNpy(files.reference).data;
    const deferred = readTensorDeferred(files.reference) as DeferredTensor;
    for (const index of [0, 1, 77, whole.length - 1])
      expect(Object.is(deferred.valueAt(index), whole[index])).toBe(true);
    expect(deferred.loaded).toBe(false);
    expect(
      Buffer.from(deferred.data.buffer).equals(Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength)),
    ).toBe(true);
    expect(deferred.loaded).toBe(true);
  });

  it("fails with the file's name when a file shrinks after its header was read", async () => {
    const files = writeCase("shrinks", [8, 6, 40, 40], "float32", 5);
    const input = readTensorDeferred(files.input);
    const reference = readTensorDeferred(files.reference);
    truncateSync(files.reference, 20_000);
    await withTensorArena(async () => {
      await expect(outputOf(input, reference, { threads: 1 })).rejects.toThrow(
        /shrinks-ref\.npy: changed while being read \(ended \d+ bytes early\)/,
      );
      // A FIFO put in the reference's place is refused, not waited on.
      rmSync(files.reference);
      execFileSync("mkfifo", [files.reference]);
      await expect(outputOf(input, reference, { threads: 1 })).rejects.toThrow(
        /shrinks-ref\.npy: changed while being read \(no longer a regular file\)/,
      );
      // The input's first: the statistics pass reads it.
      truncateSync(files.input, 20_000);
      await expect(outputOf(input, reference, { threads: 1 })).rejects.toThrow(
        /shrinks-input\.npy: changed while being read \(ended \d+ bytes early\)/,
      );
    });
  });
});
