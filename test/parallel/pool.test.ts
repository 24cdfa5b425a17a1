// Runs against the compiled package: Node cannot start a .ts worker under vitest, and this is what
// users import.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { batchNorm, checkBatchNorm, closePool, tensorFromArray, WorkerFailureError } from "../../dist/index.js";
import { normals, seededRandom } from "../helpers.js";

afterAll(async () => {
  await closePool();
});

function bits(values: Float32Array | Float64Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("base64");
}

describe("the worker pool", () => {
  const random = seededRandom(42);
  // C = 3 with many elements per channel (units are slices of channels), and a channels-last case.
  const fewChannels = tensorFromArray(normals(random, 2 * 3 * 160 * 160, 5, 3), [2, 3, 160, 160], "float32");
  const channelsLast = tensorFromArray(normals(random, 16 * 20 * 20 * 24, -1, 0.5), [16, 20, 20, 24], "float32");

  for (const [name, input, layout] of [
    ["NCHW with 3 channels", fewChannels, "NCHW"],
    ["NHWC", channelsLast, "NHWC"],
  ] as const) {
    it(`gives bit-identical output, statistics and running statistics for 1, 2, 3 and 7 threads (${name})`, async () => {
      const results = [];
      for (const threads of [1, 2, 3, 7]) {
        results.push(await batchNorm({ input }, { framework: "torch", layout, threads, parallelThreshold: 0 }));
      }
      expect(results.map((r) => r.threads)).toEqual([1, 2, 3, 7]);
      for (const result of results.slice(1)) {
        expect(bits(result.output.data)).toBe(bits(results[0].output.data));
        expect(Array.from(result.batchVariance!)).toEqual(Array.from(results[0].batchVariance!));
        expect(Array.from(result.runningVar!)).toEqual(Array.from(results[0].runningVar!));
      }
    });
  }

  it("gives the same comparison report for every thread count", async () => {
    const reference = (await batchNorm({ input: fewChannels }, { threads: 2, parallelThreshold: 0 })).output;
    // Perturb a few elements so that the report has mismatches, indices and worst elements to agree on.
    const perturbed = tensorFromArray(Array.from(reference.data), reference.shape, "float32");
    for (const index of [17, 40_000, 150_001]) perturbed.data[index] += 1e-3;
    const reports = [];
    for (const threads of [1, 2, 3, 7]) {
      const result = await checkBatchNorm({ input: fewChannels, reference: perturbed }, { threads, parallelThreshold: 0 });
      reports.push(JSON.stringify({ ...result, threads: 0, timings: null }));
    }
    expect(new Set(reports).size).toBe(1);
    const parsed = JSON.parse(reports[0]);
    expect(parsed.output.mismatches).toBe(3);
    expect(parsed.output.worst.slice(0, 3).map((e: { flatIndex: number }) => e.flatIndex).sort((a: number, b: number) => a - b)).toEqual([17, 40_000, 150_001]);
  });

  it("is bit-identical under random shapes, axes, thread counts and chunk sizes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 4 }),
        fc.nat(),
        fc.nat(),
        fc.array(fc.record({ threads: fc.integer({ min: 1, max: 8 }), chunksPerThread: fc.integer({ min: 1, max: 16 }) }), { minLength: 2, maxLength: 3 }),
        async (shape, axisSeed, seed, configurations) => {
          const axis = axisSeed % shape.length;
          const count = shape.reduce((a, b) => a * b, 1);
          const input = tensorFromArray(normals(seededRandom(seed), count, 3, 2), shape, "float32");
          const outputs = [];
          for (const { threads, chunksPerThread } of configurations) {
            const result = await batchNorm({ input }, { framework: "onnx", channelAxis: axis, threads, chunksPerThread, parallelThreshold: 0 }).catch((e: Error) => e.message);
            outputs.push(typeof result === "string" ? result : bits(result.output.data) + Array.from(result.runningVar!).join());
          }
          expect(new Set(outputs).size).toBe(1);
        },
      ),
      { seed: 99, numRuns: 25 },
    );
  });

  for (const fault of ["throw", "exit"] as const) {
    it(`turns a worker that ${fault === "throw" ? "throws" : "exits"} mid-kernel into a WorkerFailureError, and the next call still works`, async () => {
      const error = await batchNorm({ input: fewChannels }, { threads: 2, parallelThreshold: 0, injectFault: fault }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkerFailureError);
      expect((error as Error).message).toMatch(/a worker thread failed during stats \(units \d+\.\.\d+ of \d+, 3 channels\)/);
      const after = await batchNorm({ input: fewChannels }, { threads: 2, parallelThreshold: 0 });
      expect(after.threads).toBe(2);
    });
  }
});
