import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchNorm } from "../../src/check/batch-norm.js";
import { referenceBatchNormF64 } from "../../src/kernel/reference-f64.js";
import { computeStatsUnits, mergeChannelStats, statsPartialsLength } from "../../src/kernel/batch-norm.js";
import { geometryOf } from "../../src/core/layout.js";
import { planUnits } from "../../src/kernel/units.js";
import { tensorFromArray } from "../../src/core/tensor.js";
import { normals, seededRandom } from "../helpers.js";

const EPS64 = 2 ** -52;

/** Bound on |kernel − oracle| for y = (x − μ)·γ/sqrt(σ² + ε) + β: a few roundings of each term. */
function bound(x: number, mean: number, variance: number, epsilon: number, gamma: number, beta: number): number {
  const scale = Math.abs(gamma) / Math.sqrt(variance + epsilon);
  return 16 * EPS64 * ((Math.abs(x) + Math.abs(mean)) * scale + Math.abs(beta) + 1e-300);
}

describe("batchNorm (float64 kernel) against the two-pass float64 oracle", () => {
  it("agrees within a few float64 roundings on random shapes, axes and magnitudes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 2, maxLength: 5 }),
          axisSeed: fc.nat(),
          seed: fc.nat(),
          mean: fc.constantFrom(0, 3, -250, 1e4),
          std: fc.constantFrom(1, 1e-2, 40),
          epsilon: fc.constantFrom(1e-5, 1e-3, 0.1),
        }),
        async ({ shape, axisSeed, seed, mean, std, epsilon }) => {
          const axis = axisSeed % shape.length;
          const count = shape.reduce((a, b) => a * b, 1);
          const random = seededRandom(seed);
          const values = normals(random, count, mean, std);
          const channels = shape[axis];
          const weight = normals(random, channels, 1, 0.5);
          const bias = normals(random, channels, 0, 2);
          const input = tensorFromArray(values, shape, "float64");
          const result = await batchNorm(
            {
              input,
              weight: tensorFromArray(weight, [channels], "float64"),
              bias: tensorFromArray(bias, [channels], "float64"),
            },
            { framework: "torch", channelAxis: axis, epsilon, threads: 1 },
          ).catch((error: Error) => error);
          const { outer, inner } = geometryOf(shape, axis);
          if (outer * inner === 1) {
            expect((result as Error).message).toMatch(/Expected more than 1 value per channel when training/);
            return;
          }
          const ok = result as Exclude<typeof result, Error>;
          const oracle = referenceBatchNormF64(values, shape, axis, epsilon, weight, bias);
          for (let i = 0; i < count; i++) {
            const c = Math.floor(i / inner) % channels;
            const tolerance = bound(values[i], oracle.mean[c], oracle.variance[c], epsilon, weight[c], bias[c]);
            if (Math.abs(ok.output.data[i] - oracle.output[i]) > tolerance) {
              throw new Error(
                `element ${i}: kernel ${ok.output.data[i]} vs oracle ` +
                  `${oracle.output[i]} (bound ${tolerance}, seed ${seed})`,
              );
            }
          }
        },
      ),
      { seed: 20261127, numRuns: 150 },
    );
  });

  it("keeps the variance of a channel with mean 1e4 and std 1e-2 to float64 two-pass accuracy", () => {
    const random = seededRandom(3);
    const values = normals(random, 3 * 40_000, 1e4, 1e-2).map(Math.fround);
    const shape = [40_000, 3];
    const grid = planUnits(geometryOf(shape, 1));
    expect(grid.unitCount).toBeGreaterThan(1); // the merge across units is exercised
    const partials = new Float64Array(statsPartialsLength(grid));
    computeStatsUnits(Float32Array.from(values), grid, 0, grid.unitCount, partials);
    const stats = mergeChannelStats(grid, partials);
    const oracle = referenceBatchNormF64(values, shape, 1, 1e-5);
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(stats.mean[c] - oracle.mean[c]) / oracle.mean[c]).toBeLessThan(4 * EPS64);
      expect(Math.abs(stats.m2[c] / stats.count[c] - oracle.variance[c]) / oracle.variance[c]).toBeLessThan(1e-9);
    }
  });

  it("gives a constant channel variance exactly 0, so its output is exactly the bias", async () => {
    const input = tensorFromArray(
      new Array(2 * 3 * 5).fill(0).map((_, i) => (Math.floor(i / 5) % 3 === 1 ? 0.1 : i)),
      [2, 3, 5],
      "float32",
    );
    const result = await batchNorm({ input, bias: tensorFromArray([0, 0.25, 0], [3]) }, { threads: 1 });
    expect(result.batchVariance?.[1]).toBe(0);
    for (let i = 0; i < 30; i++) if (Math.floor(i / 5) % 3 === 1) expect(result.output.data[i]).toBe(0.25);
  });

  it("in training mode each channel's output has mean beta and variance gamma^2 * var/(var + eps)", async () => {
    const random = seededRandom(11);
    const shape = [8, 4, 6];
    const values = normals(random, 8 * 4 * 6, 2, 3);
    const weight = [0.5, 2, -1, 1.5];
    const bias = [0.1, -3, 4, 0];
    const result = await batchNorm(
      {
        input: tensorFromArray(values, shape, "float64"),
        weight: tensorFromArray(weight, [4], "float64"),
        bias: tensorFromArray(bias, [4], "float64"),
      },
      { threads: 1 },
    );
    for (let c = 0; c < 4; c++) {
      const ys: number[] = [];
      for (let i = 0; i < values.length; i++) if (Math.floor(i / 6) % 4 === c) ys.push(result.output.data[i]);
      const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
      const variance = ys.reduce((a, b) => a + (b - mean) ** 2, 0) / ys.length;
      const batchVar = result.batchVariance![c];
      expect(mean).toBeCloseTo(bias[c], 12);
      expect(variance).toBeCloseTo((weight[c] ** 2 * batchVar) / (batchVar + 1e-5), 10);
    }
  });

  it("NCHW and NHWC inputs give the transposed output bit for bit", async () => {
    const [n, c, h, w] = [3, 5, 4, 7];
    const random = seededRandom(5);
    const nchw = normals(random, n * c * h * w, 1, 2);
    const nhwc = new Array<number>(nchw.length);
    for (let a = 0; a < n; a++)
      for (let b = 0; b < c; b++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) nhwc[((a * h + y) * w + x) * c + b] = nchw[((a * c + b) * h + y) * w + x];
    const first = await batchNorm(
      { input: tensorFromArray(nchw, [n, c, h, w], "float32") },
      { layout: "NCHW", threads: 1 },
    );
    const second = await batchNorm(
      { input: tensorFromArray(nhwc, [n, h, w, c], "float32") },
      { layout: "NHWC", threads: 1 },
    );
    for (let a = 0; a < n; a++)
      for (let b = 0; b < c; b++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            expect(second.output.data[((a * h + y) * w + x) * c + b]).toBe(
              first.output.data[((a * c + b) * h + y) * w + x],
            );
          }
  });

  it("eval mode normalises with the running statistics, not the batch", async () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8];
    const result = await batchNorm(
      {
        input: tensorFromArray(values, [4, 2], "float64"),
        runningMean: tensorFromArray([1, -1], [2], "float64"),
        runningVar: tensorFromArray([4, 0.25], [2], "float64"),
      },
      { mode: "eval", epsilon: 1e-5, threads: 1 },
    );
    const oracle = referenceBatchNormF64(values, [4, 2], 1, 1e-5, null, null, { mean: [1, -1], variance: [4, 0.25] });
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(result.output.data[i] - oracle.output[i])).toBeLessThanOrEqual(
        4 * EPS64 * Math.abs(oracle.output[i]),
      );
    }
    // The batch mean here is 4.5 / 5.5, far from the running means: batch statistics would give other values.
    expect(result.output.data[0]).toBe(0);
  });
});
