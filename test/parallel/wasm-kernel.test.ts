// The WebAssembly SIMD kernel against the JavaScript one and the float64 oracle, through the real
// worker pool. Runs against the compiled package (dist/), where the .wasm the build assembled lives.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  allocateShared,
  batchNorm,
  batchNormGradients,
  checkBatchNorm,
  closePool,
  writeNpy,
  kernelName,
  TensorArena,
  tensorFromArray,
  withTensorArena,
  type Tensor,
} from "../../dist/index.js";
import { referenceBatchNormF64 } from "../../dist/kernel/reference-f64.js";
import { ARENA_MIN_ELEMENTS } from "../../dist/core/arena.js";
import { primeCompareKernel } from "../../dist/parallel/wasm-kernel.js";
import { normals, runCli, seededRandom } from "../helpers.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

afterAll(async () => {
  await closePool();
});

function bits(values: Float32Array | Float64Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
}

/**
 * Tensors under ARENA_MIN_ELEMENTS stay out of arenas (and so on the JavaScript kernel): grow a
 * dimension other than the channel axis until the tensor is large enough for the SIMD kernel.
 */
function growToArenaSize(shape: number[], axis: number): void {
  const count = shape.reduce((a, b) => a * b, 1);
  const grown = axis === 0 ? shape.length - 1 : 0;
  shape[grown] *= Math.ceil(ARENA_MIN_ELEMENTS / count);
}

/** The same tensor in the ambient arena (call inside withTensorArena). */
function inArena(tensor: Tensor): Tensor {
  const data = allocateShared(tensor.dtype, tensor.data.length);
  data.set(tensor.data);
  return { ...tensor, data };
}

describe("the WebAssembly SIMD kernel", () => {
  it("is built and loads", () => {
    expect(kernelName()).toBe("wasm-simd");
  });

  it("gives the JavaScript kernel's bits for random shapes, axes, offsets and thread counts", async () => {
    await fc.assert(
      fc.asyncProperty(
        // Shapes with inner = 1 (channels-last), short runs (JS in both), and long ones with tails.
        fc.array(fc.integer({ min: 1, max: 37 }), { minLength: 2, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(0, 1e4, -3e6),
        fc.integer({ min: 1, max: 3 }),
        async (shape, axisSeed, seed, offset, threads) => {
          const axis = axisSeed % shape.length;
          growToArenaSize(shape, axis);
          const count = shape.reduce((a, b) => a * b, 1);
          const values = normals(seededRandom(seed), count, offset, 2);
          // Now and then a NaN or an infinity, which must propagate the same way in both kernels.
          if (seed % 7 === 3) values[seed % count] = NaN;
          if (seed % 11 === 5) values[(seed >> 3) % count] = -Infinity;
          const plain = tensorFromArray(values, shape, "float32");
          const options = { framework: "torch" as const, channelAxis: axis, threads, parallelThreshold: 0 };
          const js = await batchNorm({ input: plain }, options).catch((e: Error) => e.message);
          const simd = await withTensorArena(() => batchNorm({ input: inArena(plain) }, options)).catch(
            (e: Error) => e.message,
          );
          if (typeof js === "string" || typeof simd === "string") {
            expect(simd).toEqual(js);
            return;
          }
          expect(js.timings.kernels).toEqual({ stats: "js", normalize: "js" });
          expect(simd.timings.kernels.normalize).toBe("wasm-simd");
          expect(bits(simd.output.data)).toBe(bits(js.output.data));
          expect(bits(simd.batchMean!)).toBe(bits(js.batchMean!));
          expect(bits(simd.batchVariance!)).toBe(bits(js.batchVariance!));
          expect(bits(simd.runningVar!)).toBe(bits(js.runningVar!));
        },
      ),
      { seed: 2026, numRuns: 40 },
    );
  });

  it("gives the JavaScript kernel's gradients, bit for bit (dx in float32, and the report of the fused dx comparison), for random shapes, axes, modes and thread counts", async () => {
    await fc.assert(
      fc.asyncProperty(
        // Runs shorter than 8 stay on JavaScript; longer ones have lane bodies and tails.
        fc.array(fc.integer({ min: 1, max: 37 }), { minLength: 2, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom(0, 1e4),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom("train" as const, "eval" as const),
        async (shape, axisSeed, seed, offset, threads, mode) => {
          const axis = Math.max(1, axisSeed % shape.length);
          growToArenaSize(shape, axis);
          const count = shape.reduce((a, b) => a * b, 1);
          const random = seededRandom(seed);
          const values = normals(random, count, offset, 2);
          const dyValues = normals(random, count, 0, 1);
          if (seed % 7 === 3) dyValues[seed % count] = NaN;
          const channels = shape[axis];
          const stats = {
            runningMean: tensorFromArray(normals(random, channels, offset, 1), [channels], "float32"),
            runningVar: tensorFromArray(normals(random, channels, 4, 1).map(Math.abs), [channels], "float32"),
            weight: tensorFromArray(normals(random, channels, 1, 0.5), [channels], "float32"),
          };
          const input = tensorFromArray(values, shape, "float32");
          const gradOutput = tensorFromArray(dyValues, shape, "float32");
          const reference = tensorFromArray(
            dyValues.map((v, i) => (i % 5 === 0 ? v * 1.001 : v)),
            shape,
            "float32",
          );
          const options = { framework: "torch" as const, mode, channelAxis: axis, threads, parallelThreshold: 0 };
          const run = (inMemory: (t: Tensor) => Tensor) =>
            Promise.all([
              batchNormGradients({ input: inMemory(input), gradOutput: inMemory(gradOutput), ...stats }, options),
              checkBatchNorm(
                {
                  input: inMemory(input),
                  gradOutput: inMemory(gradOutput),
                  referenceGradInput: inMemory(reference),
                  referenceGradBias: stats.weight,
                  ...stats,
                },
                options,
              ),
            ]);
          const js = await run((t) => t);
          const simd = await withTensorArena(() => run(inArena));
          expect(js[0].timings.kernels).toMatchObject({ gradSums: "js", gradInput: "js" });
          const runsLongEnough = shape.slice(axis + 1).reduce((a, b) => a * b, 1) >= 8;
          expect(simd[0].timings.kernels.gradInput).toBe(runsLongEnough ? "wasm-simd" : "js");
          expect(simd[1].timings.kernels.gradSums).toBe(runsLongEnough ? "wasm-simd" : "js");
          // The fused dx comparison (the compare pass with the addend a·dy) runs SIMD for float32 data.
          expect(simd[1].timings.kernels.gradInput).toBe("wasm-simd");
          expect(js[1].timings.kernels.gradInput).toBe("js");
          for (const key of ["gradInput", "gradWeight", "gradBias"] as const)
            expect(bits(simd[0][key].data)).toBe(bits(js[0][key].data));
          const report = (result: (typeof js)[1]) => JSON.stringify([result.gradInput, result.gradBias]);
          expect(report(simd[1])).toBe(report(js[1]));
        },
      ),
      { seed: 2027, numRuns: 30 },
    );
  });

  it("gives the JavaScript comparison report, bit for bit, on references with errors of every size, NaN, infinities and zeros", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 23 }), { minLength: 2, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        async (shape, axisSeed, seed, equalNan, threads) => {
          const axis = axisSeed % shape.length;
          growToArenaSize(shape, axis);
          const count = shape.reduce((a, b) => a * b, 1);
          const random = seededRandom(seed);
          const input = tensorFromArray(normals(random, count, 1, 3), shape, "float32");
          const options = { framework: "torch" as const, channelAxis: axis, threads, parallelThreshold: 0, equalNan };
          const exact = await batchNorm({ input }, options).catch(() => null);
          if (exact === null) return; // shapes torch cannot train on: covered by the batchNorm property
          const reference = tensorFromArray(Array.from(exact.output.data), shape, "float32");
          // Errors from 1 ulp to far beyond 16 ulps (the kernel's register histogram limit), exact
          // zeros against non-zero results, NaN and infinities on either side, and large excesses
          // that fill the worst list.
          for (let i = 0; i < count; i++) {
            const pick = random();
            const value = reference.data[i];
            if (pick < 0.3) reference.data[i] = value * (1 + 2 ** -23 * Math.floor(random() * 4));
            else if (pick < 0.4) reference.data[i] = value * (1 + 2 ** -23 * Math.floor(random() * 5000));
            else if (pick < 0.45) reference.data[i] = value + (random() - 0.5) * 1e-2;
            else if (pick < 0.47) reference.data[i] = 0;
            else if (pick < 0.49) reference.data[i] = NaN;
            else if (pick < 0.5) reference.data[i] = random() < 0.5 ? Infinity : -Infinity;
            else if (pick < 0.51) input.data[i] = NaN;
            else if (pick < 0.52) input.data[i] = 3e38;
          }
          const plain = await checkBatchNorm({ input, reference }, options).catch((e: Error) => e.message);
          const simd = await withTensorArena(() =>
            checkBatchNorm({ input: inArena(input), reference: inArena(reference) }, options),
          ).catch((e: Error) => e.message);
          if (typeof plain === "string" || typeof simd === "string") {
            expect(simd).toEqual(plain);
            return;
          }
          expect(plain.timings.kernels.compare).toBe("js");
          expect(simd.timings.kernels.compare).toBe("wasm-simd");
          const strip = (result: typeof plain) =>
            JSON.stringify({ ...result, threads: 0, timings: null }, (_key, value) =>
              typeof value === "number" && !Number.isFinite(value) ? String(value) : value,
            );
          expect(strip(simd)).toBe(strip(plain));
        },
      ),
      { seed: 77, numRuns: 60 },
    );
  });

  // The SIMD compare kernel sweeps blocks of SWEEP_BLOCK_GROUPS groups of four and settles a block
  // there unless a value in it is non-finite, outside its flat tolerance or above atol; maxima it
  // raises are resolved to their first index at the end, the worst list is offered its values when
  // one beats the list. These references conform but for rare faults, so most blocks take that path.
  it("gives the JavaScript comparison report, bit for bit, on conforming references with rare faults (the SIMD kernel's first sweep)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 100, max: 700 }),
        fc.nat(),
        fc.constantFrom(0, 1e-4, 1e-3, 2e-2),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (batch, channels, inner, seed, faultRate, threads, repeated) => {
          const shape = [batch, channels, inner];
          growToArenaSize(shape, 1);
          const count = shape.reduce((a, b) => a * b, 1);
          const random = seededRandom(seed);
          // Repeated values give equal errors at several indices: maxima must keep the first.
          const values = normals(random, count, 0.5, 2);
          const input = tensorFromArray(repeated ? values.map((_v, i) => values[i % 37]) : values, shape, "float32");
          const options = { framework: "torch" as const, channelAxis: 1, threads, parallelThreshold: 0 };
          const exact = await batchNorm({ input }, options);
          const reference = tensorFromArray(Array.from(exact.output.data), shape, "float32");
          const f32 = new Float32Array(1);
          const u32 = new Uint32Array(f32.buffer);
          for (let i = 0; i < count; i++) {
            const pick = random();
            f32[0] = reference.data[i];
            // Most values a few ulps off (0-15 ulps: the byte-counted buckets); rarely further.
            if (pick < 0.3) u32[0] += Math.floor(random() * 4);
            else if (pick < 0.32) u32[0] += Math.floor(random() * 16);
            else if (pick < 0.32 + faultRate) u32[0] += 16 + Math.floor(random() * 3000);
            // A sign change, a zero of either sign, a value outside the flat tolerance, NaN.
            else if (pick < 0.32 + 2 * faultRate) f32[0] = -f32[0] * random() * 1e-3;
            else if (pick < 0.32 + 3 * faultRate) f32[0] = random() < 0.5 ? 0 : -0;
            else if (pick < 0.32 + 3.3 * faultRate) f32[0] += (random() - 0.5) * 1e-2;
            else if (pick < 0.32 + 3.4 * faultRate) f32[0] = NaN;
            reference.data[i] = f32[0];
          }
          const plain = await checkBatchNorm({ input, reference }, options);
          const simd = await withTensorArena(() =>
            checkBatchNorm({ input: inArena(input), reference: inArena(reference) }, options),
          );
          expect(plain.timings.kernels.compare).toBe("js");
          expect(simd.timings.kernels.compare).toBe("wasm-simd");
          const strip = (result: typeof plain) =>
            JSON.stringify({ ...result, threads: 0, timings: null }, (_key, value) =>
              typeof value === "number" && !Number.isFinite(value) ? String(value) : value,
            );
          expect(strip(simd)).toBe(strip(plain));
        },
      ),
      { seed: 23, numRuns: 40 },
    );
  });

  for (const [name, shape, layout] of [
    ["NCHW, runs with a tail", [8, 5, 13, 11], "NCHW"],
    ["NHWC (one value per row and channel)", [6, 9, 7, 70], "NHWC"],
    ["NC", [300, 33], "NC"],
  ] as const) {
    it(`runs on the workers and agrees with the float64 oracle (${name})`, async () => {
      const count = shape.reduce((a, b) => a * b, 1);
      // A large common offset: the case where one-pass formulas lose digits.
      const values = normals(seededRandom(7), count, 1e4, 0.5);
      const results = await withTensorArena(async () => {
        const input = tensorFromArray(values, shape, "float32");
        const runs = [];
        for (const threads of [1, 2, 3])
          runs.push(await batchNorm({ input }, { layout, threads, parallelThreshold: 0 }));
        return runs;
      });
      for (const result of results) {
        expect(result.timings.kernels).toEqual({ stats: "wasm-simd", normalize: "wasm-simd" });
        expect(bits(result.output.data)).toBe(bits(results[0].output.data));
      }
      const float32Input = Float32Array.from(values);
      const oracle = referenceBatchNormF64(float32Input, shape, layout === "NCHW" ? 1 : shape.length - 1, 1e-5);
      const { batchMean, batchVariance, output } = results[0];
      for (let c = 0; c < oracle.mean.length; c++) {
        expect(Math.abs(batchMean![c] - oracle.mean[c])).toBeLessThanOrEqual(1e-15 * Math.abs(oracle.mean[c]));
        expect(Math.abs(batchVariance![c] - oracle.variance[c])).toBeLessThanOrEqual(1e-12 * oracle.variance[c]);
      }
      // y is the float64 result rounded once: at most half a float32 ulp from the oracle's y, plus
      // what the statistics' last bits can move.
      for (let i = 0; i < output.data.length; i++) {
        expect(Math.abs(output.data[i] - oracle.output[i])).toBeLessThanOrEqual(
          Math.abs(oracle.output[i]) * 2 ** -24 * 1.0001 + 1e-12,
        );
      }
    });
  }

  // A check of a large float32 reference first runs the compare kernel once on zeros of its own
  // (primeCompareKernel), so that V8's optimised compile overlaps the statistics pass. That run must
  // leave every report as it was and write nothing into the arena the check's tensors live in.
  it("is primed in a memory of its own: the report and the arena's memory are what they were without it", async () => {
    const shape = [4, 3, 40, 40];
    const input = tensorFromArray(normals(seededRandom(5), 4 * 3 * 40 * 40, 1, 2), shape, "float32");
    const reference = (await batchNorm({ input }, { threads: 1 })).output;
    for (let i = 0; i < reference.data.length; i += 5) reference.data[i] *= 1 + 2 ** -21;
    const report = (primeFirst: boolean) =>
      withTensorArena(async () => {
        const tensors = { input: inArena(input), reference: inArena(reference) };
        const memory = new Uint8Array(tensors.input.data.buffer);
        const before = Buffer.from(memory).toString("base64");
        if (primeFirst) primeCompareKernel();
        const after = Buffer.from(memory).toString("base64");
        const result = await checkBatchNorm(tensors, { threads: 1 });
        expect(result.timings.kernels.compare).toBe("wasm-simd");
        return { untouched: before === after, result: JSON.stringify({ ...result, timings: null }) };
      });
    const plain = await report(false);
    const primed = await report(true);
    expect(primed.untouched).toBe(true);
    expect(primed.result).toBe(plain.result);
    // Values scaled by 1 + 2^-21 are up to 8 float32 ulps off (at the top of a binade).
    expect(JSON.parse(plain.result).output.maxUlp.ulps).toBe(8);
  });

  it("is used by the CLI, and BN_CHECK_KERNEL=js gives the same report from the JavaScript kernel", async () => {
    // Real files large enough for a tensor arena: an input, and bn-check's own output with errors
    // of a few ulps and one far beyond tolerance as the reference.
    const dir = mkdtempSync(join(tmpdir(), "bn-check-wasm-"));
    try {
      const input = tensorFromArray(normals(seededRandom(11), 16 * 8 * 9 * 9, 2, 3), [16, 8, 9, 9], "float32");
      const reference = (await batchNorm({ input }, { threads: 1 })).output;
      for (let i = 0; i < reference.data.length; i += 7) reference.data[i] *= 1 + 2 ** -22;
      reference.data[1234] += 0.5;
      writeNpy(join(dir, "input.npy"), input);
      writeNpy(join(dir, "ref.npy"), reference);
      const args = ["compare", join(dir, "input.npy"), join(dir, "ref.npy"), "--format", "json"];
      const simd = runCli(args);
      const js = runCli(args, { BN_CHECK_KERNEL: "js" });
      expect(simd.status).toBe(1);
      expect(js.status).toBe(1);
      const simdReport = JSON.parse(simd.stdout);
      const jsReport = JSON.parse(js.stdout);
      expect(simdReport.timings.kernels).toEqual({ stats: "wasm-simd", compare: "wasm-simd" });
      expect(jsReport.timings.kernels).toEqual({ stats: "js", compare: "js" });
      expect(simdReport.tensors[0].mismatches).toBe(1);
      expect(simdReport.tensors[0].worst[0].flatIndex).toBe(1234);
      const strip = (report: Record<string, unknown>) => JSON.stringify({ ...report, timings: null });
      expect(strip(simdReport)).toBe(strip(jsReport));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tensor arenas", () => {
  it("hand out aligned views of one shared memory, and give back only their top", () => {
    const arena = new TensorArena();
    const a = arena.allocate("f32", 3)!;
    const b = arena.allocate("f64", 5)!;
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(b.byteOffset % 64).toBe(0);
    expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + a.byteLength);
    arena.release(a); // not the top: kept
    expect(arena.usedBytes).toBe(b.byteOffset + b.byteLength);
    b.fill(7);
    arena.release(b);
    expect(arena.usedBytes).toBe(b.byteOffset);
    const c = arena.allocate("f64", 5)!;
    expect(c.byteOffset).toBe(b.byteOffset);
    expect(Array.from(c)).toEqual([0, 0, 0, 0, 0]); // a reused region is handed out as zeros again
  });

  it("decline what a 32-bit memory cannot hold, and allocateShared then falls back to a plain buffer", () => {
    const arena = new TensorArena();
    expect(arena.allocate("f32", 2 ** 30 + 1)).toBeNull(); // 4 GiB + 4 bytes
    expect(arena.usedBytes).toBe(0);
    const [small, large] = withTensorArena(() => [
      allocateShared("float32", 8),
      allocateShared("float32", ARENA_MIN_ELEMENTS),
    ]);
    expect(small.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(small.buffer).not.toBe(large.buffer); // small tensors get a buffer of their own
    expect(allocateShared("float64", 2).byteOffset).toBe(0); // outside any arena: a buffer of its own
  });
});
