// The worker pool, with workers really taking part: every invariance test runs until each thread has
// claimed units in every pass (timings.unitsByThread), and the same tests fail with a fixture worker
// that computes differently. Runs against the compiled package: Node cannot start a .ts worker under
// vitest, and this is what users import.
import fc from "fast-check";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  batchNorm,
  checkBatchNorm,
  closePool,
  tensorFromArray,
  WorkerFailureError,
  type Tensor,
} from "../../dist/index.js";
import { InterruptedError } from "../../dist/core/errors.js";
import {
  COLD_PARALLEL_THRESHOLD,
  coldParallelThreshold,
  planExecution,
  prewarmFor,
} from "../../dist/parallel/executor.js";
import { poolIsWarm } from "../../dist/parallel/pool.js";
import { planUnits } from "../../dist/kernel/units.js";
import { FIXTURES, normals, seededRandom } from "../helpers.js";

afterAll(async () => {
  await closePool();
});

function bits(values: Float32Array | Float64Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
}

/** Small chunks, no size threshold: every pass goes to the pool. */
const POOLED = { parallelThreshold: 0, chunksPerThread: 32 };

interface Timed {
  readonly threads: number;
  readonly timings: { readonly unitsByThread: Readonly<Record<string, readonly number[]>> };
}

/**
 * Calls `call` until, in every pass, every thread claimed units — or, with more threads than cores,
 * as many threads as there are cores (only that many run at once) — and returns that call's result.
 * The first calls start the pool; a pass that booting workers miss is simply run again, at most
 * ATTEMPTS times (60 were not always enough when the whole suite loads both cores).
 */
const ATTEMPTS = 300;

async function withEveryThread<T extends Timed>(threads: number, call: () => Promise<T>): Promise<T> {
  const required = Math.min(threads, availableParallelism());
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const result = await call();
    const passes = Object.values(result.timings.unitsByThread);
    const working = (units: readonly number[]) => units.filter((u) => u > 0).length;
    if (passes.length > 0 && passes.every((units) => units.length === threads && working(units) >= required)) {
      expect(result.threads).toBeGreaterThanOrEqual(required);
      return result;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`fewer than ${required} of ${threads} threads took part in some pass, ${ATTEMPTS} calls running`);
}

/** Runs `body` with the pool's workers running a fixture worker file, then restores the real one. */
async function withWorkerFile<T>(file: string, body: () => Promise<T>): Promise<T> {
  await closePool();
  process.env.BN_CHECK_WORKER_FILE = join(FIXTURES, "workers", file);
  try {
    return await body();
  } finally {
    delete process.env.BN_CHECK_WORKER_FILE;
    await closePool();
  }
}

const random = seededRandom(42);
// C = 3 with many elements per channel (units are slices of channels), and a channels-last case.
const fewChannels = tensorFromArray(normals(random, 2 * 3 * 400 * 400, 5, 3), [2, 3, 400, 400], "float32");
const channelsLast = tensorFromArray(normals(random, 32 * 32 * 32 * 24, -1, 0.5), [32, 32, 32, 24], "float32");

function trainSignature(result: Awaited<ReturnType<typeof batchNorm>>): string {
  return [
    bits(result.output.data),
    Array.from(result.batchVariance!).join(),
    Array.from(result.runningVar!).join(),
  ].join("|");
}

describe("the worker pool", () => {
  afterEach(() => {
    delete process.env.BN_CHECK_WORKER_FILE;
  });

  it("runs the piscina the build bundled (dist/parallel/piscina.cjs), not the package's twenty files", async () => {
    // Both threads took part (withEveryThread checks it): the pool ran.
    await withEveryThread(2, () => batchNorm({ input: fewChannels }, { framework: "torch", threads: 2, ...POOLED }));
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    expect(loaded.some((path) => path.endsWith(join("dist", "parallel", "piscina.cjs")))).toBe(true);
    expect(loaded.filter((path) => path.includes(join("node_modules", "piscina")))).toEqual([]);
  });

  for (const [name, input, layout] of [
    ["NCHW with 3 channels", fewChannels, "NCHW"],
    ["NHWC", channelsLast, "NHWC"],
  ] as const) {
    it(`gives bit-identical output, statistics and running statistics for 1, 2 and 3 threads, every thread working (${name})`, async () => {
      const single = await batchNorm({ input }, { framework: "torch", layout, threads: 1 });
      expect(single.timings.unitsByThread.stats).toHaveLength(1);
      for (const threads of [2, 3]) {
        const pooled = await withEveryThread(threads, () =>
          batchNorm({ input }, { framework: "torch", layout, threads, ...POOLED }),
        );
        expect(trainSignature(pooled)).toBe(trainSignature(single));
      }
    });
  }

  it("gives the same comparison report for every thread count, every thread working", async () => {
    const reference = (await batchNorm({ input: fewChannels }, { threads: 1 })).output;
    // Perturb a few elements so that the report has mismatches, indices and worst elements to agree on.
    const perturbed = tensorFromArray(Array.from(reference.data), reference.shape, "float32");
    for (const index of [17, 40_000, 150_001]) perturbed.data[index] += 1e-3;
    const strip = (result: Awaited<ReturnType<typeof checkBatchNorm>>) =>
      JSON.stringify({ ...result, threads: 0, timings: null });
    const single = strip(await checkBatchNorm({ input: fewChannels, reference: perturbed }, { threads: 1 }));
    for (const threads of [2, 3]) {
      const pooled = await withEveryThread(threads, () =>
        checkBatchNorm({ input: fewChannels, reference: perturbed }, { threads, ...POOLED }),
      );
      expect(strip(pooled)).toBe(single);
    }
    const parsed = JSON.parse(single);
    expect(parsed.output.mismatches).toBe(3);
    expect(
      parsed.output.worst
        .slice(0, 3)
        .map((e: { flatIndex: number }) => e.flatIndex)
        .sort((a: number, b: number) => a - b),
    ).toEqual([17, 40_000, 150_001]);
  });

  it("gives the same gradient report (dx, dγ, dβ) at 1, 2, 3 and 7 threads, every thread working in both backward passes", async () => {
    const gradRandom = seededRandom(7);
    const count = fewChannels.data.length;
    const gradOutput = tensorFromArray(normals(gradRandom, count), fewChannels.shape, "float32");
    // References a little off (so that the report has errors to agree on): dy itself as dx, zeros as dγ and dβ.
    const referenceGradInput = tensorFromArray(Array.from(gradOutput.data), fewChannels.shape, "float32");
    const zeros = tensorFromArray([0, 0, 0], [3], "float32");
    const tensors = {
      input: fewChannels,
      reference: fewChannels,
      gradOutput,
      referenceGradInput,
      referenceGradWeight: zeros,
      referenceGradBias: zeros,
    };
    const strip = (result: Awaited<ReturnType<typeof checkBatchNorm>>) =>
      JSON.stringify({ grads: [result.gradInput, result.gradWeight, result.gradBias], verdict: result.verdict });
    const single = strip(await checkBatchNorm(tensors, { threads: 1 }));
    for (const threads of [2, 3, 7]) {
      const pooled = await withEveryThread(threads, () => checkBatchNorm(tensors, { threads, ...POOLED }));
      expect(Object.keys(pooled.timings.unitsByThread)).toEqual(expect.arrayContaining(["gradSums", "gradInput"]));
      expect(strip(pooled)).toBe(single);
    }
    const parsed = JSON.parse(single);
    expect(parsed.grads.map((t: { name: string; passed: boolean }) => `${t.name} ${t.passed}`)).toEqual([
      "grad_input false",
      "grad_weight false",
      "grad_bias false",
    ]);
  });

  it("is bit-identical under random shapes, axes, thread counts and chunk sizes, every thread working", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 2, max: 3 }),
        fc.integer({ min: 4, max: 64 }),
        async (shape, axisSeed, seed, threads, chunksPerThread) => {
          const axis = axisSeed % shape.length;
          // Enough elements (2^18 and more) that a pass lasts long enough for every worker to join.
          const grown = axis === 0 ? shape.length - 1 : 0;
          shape[grown] *= Math.max(1, Math.ceil(2 ** 18 / shape.reduce((a, b) => a * b, 1)));
          const count = shape.reduce((a, b) => a * b, 1);
          const input: Tensor = tensorFromArray(normals(seededRandom(seed), count, 3, 2), shape, "float32");
          const single = await batchNorm({ input }, { framework: "onnx", channelAxis: axis, threads: 1 }).catch(
            (e: Error) => e.message,
          );
          if (typeof single === "string") return; // shapes no preset trains on are covered elsewhere
          const pooled = await withEveryThread(threads, () =>
            batchNorm(
              { input },
              { framework: "onnx", channelAxis: axis, threads, chunksPerThread, parallelThreshold: 0 },
            ),
          );
          expect(bits(pooled.output.data) + Array.from(pooled.runningVar!).join()).toBe(
            bits(single.output.data) + Array.from(single.runningVar!).join(),
          );
        },
      ),
      { seed: 99, numRuns: 10 },
    );
  });

  it("fails those same invariance checks with a worker that computes differently (the checks can fail)", async () => {
    const single = await batchNorm({ input: fewChannels }, { framework: "torch", threads: 1 });
    const reference = tensorFromArray(Array.from(single.output.data), single.output.shape, "float32");
    const singleReport = await checkBatchNorm({ input: fewChannels, reference }, { threads: 1 });
    await withWorkerFile("corrupt.cjs", async () => {
      // The calling thread leaves every unit to the (corrupting) worker: deterministic on one core too.
      const corrupted = await batchNorm(
        { input: fewChannels },
        { framework: "torch", threads: 2, ...POOLED, callerClaims: false },
      );
      expect(corrupted.timings.unitsByThread.stats[0]).toBe(0);
      expect(trainSignature(corrupted)).not.toBe(trainSignature(single));
      const report = await checkBatchNorm(
        { input: fewChannels, reference },
        { threads: 2, ...POOLED, callerClaims: false },
      );
      expect(report.output.mismatches).toBeGreaterThan(singleReport.output.mismatches);
    });
  });

  for (const [file, what] of [
    ["throw.cjs", "throws"],
    ["exit.cjs", "exits"],
  ] as const) {
    it(`turns a worker that ${what} into a WorkerFailureError naming the pass, and the next call still works`, async () => {
      // The calling thread leaves every unit to the failing worker, which must take them: one call.
      const error = await withWorkerFile(file, () =>
        batchNorm({ input: fewChannels }, { threads: 2, ...POOLED, callerClaims: false }).catch((e: unknown) => e),
      );
      expect(error).toBeInstanceOf(WorkerFailureError);
      expect((error as Error).message).toMatch(
        /a worker thread failed during (stats|normalize) \(units \d+\.\.\d+ of \d+, 3 channels\)/,
      );
      const after = await withEveryThread(2, () => batchNorm({ input: fewChannels }, { threads: 2, ...POOLED }));
      // withEveryThread waited for as many working threads as there are cores (one, under taskset -c 0).
      expect(after.timings.unitsByThread.stats.filter((units) => units > 0).length).toBeGreaterThanOrEqual(
        Math.min(2, availableParallelism()),
      );
    });
  }

  it("stops a pass that waits for a stalled worker when its signal aborts (no hang)", async () => {
    process.env.BN_CHECK_FIXTURE_STALL_MS = "20000";
    try {
      await withWorkerFile("stall.cjs", async () => {
        // The calling thread leaves every unit to the stalling worker, so the pass can only end by
        // the abort, sent once the pass is under way (an event, not a clock). A hang fails by the
        // test's own timeout, long before the 20 s stall.
        const controller = new AbortController();
        const pass = batchNorm(
          { input: fewChannels },
          { threads: 2, ...POOLED, callerClaims: false, signal: controller.signal },
        ).catch((e: unknown) => e);
        setImmediate(() => controller.abort());
        expect(await pass).toBeInstanceOf(InterruptedError);
      });
    } finally {
      delete process.env.BN_CHECK_FIXTURE_STALL_MS;
    }
  });
});

describe("one-shot runs and the cold pool", () => {
  // S1 = 32x64x56x56 lies below COLD_PARALLEL_THRESHOLD; 24 Mi elements is at it.
  const grid = (outer: number) => planUnits({ outer, channels: 64, inner: 56 * 56 });
  const previous = process.env.BN_CHECK_COLD_THRESHOLD;
  afterEach(() => {
    if (previous === undefined) delete process.env.BN_CHECK_COLD_THRESHOLD;
    else process.env.BN_CHECK_COLD_THRESHOLD = previous;
  });

  it("run in the calling thread below COLD_PARALLEL_THRESHOLD and on the pool from it, and start the pool early only then", async () => {
    await closePool();
    delete process.env.BN_CHECK_COLD_THRESHOLD;
    expect(COLD_PARALLEL_THRESHOLD).toBe(24 * 2 ** 20);
    expect(coldParallelThreshold()).toBe(COLD_PARALLEL_THRESHOLD);
    expect(planExecution(grid(32), { threads: 2 })).toEqual({ threads: 1, useWorkers: false });
    expect(planExecution(grid(Math.ceil((24 * 2 ** 20) / (64 * 56 * 56))), { threads: 2 })).toEqual({
      threads: 2,
      useWorkers: true,
    });
    prewarmFor(32 * 64 * 56 * 56, { threads: 2 });
    expect(poolIsWarm(1)).toBe(false);
    prewarmFor(24 * 2 ** 20, { threads: 2 });
    expect(poolIsWarm(1)).toBe(true);
    await closePool();
  });

  it("take BN_CHECK_COLD_THRESHOLD as the threshold (the bench's knob); a value that is no element count is ignored", async () => {
    await closePool();
    process.env.BN_CHECK_COLD_THRESHOLD = "0";
    expect(planExecution(grid(32), { threads: 2 })).toEqual({ threads: 2, useWorkers: true });
    process.env.BN_CHECK_COLD_THRESHOLD = "-5";
    expect(coldParallelThreshold()).toBe(COLD_PARALLEL_THRESHOLD);
    process.env.BN_CHECK_COLD_THRESHOLD = "lots";
    expect(planExecution(grid(32), { threads: 2 })).toEqual({ threads: 1, useWorkers: false });
  });
});
