// Hints on why a reference does not conform: the signatures of statistics rounded to a narrower
// format, on references made here with exactly that mistake, and nothing on a correct one.
import { afterAll, describe, expect, it } from "vitest";
import { checkBatchNorm, closePool, tensorFromArray } from "../../src/index.js";
import { explainNonConformance } from "../../src/explain/hints.js";
import { roundTo } from "../../src/core/formats.js";
import { normals, seededRandom } from "../helpers.js";

afterAll(async () => {
  await closePool();
});

/** [8, C, 16] data with per-channel means `means` and std 1, and y with each mean replaced by `meanOf(μ)`. */
function layer(means: number[], meanOf: (mean: number) => number, dtype: "float32" | "float64") {
  const random = seededRandom(3);
  const channels = means.length;
  const input = new Float64Array(8 * channels * 16);
  for (let b = 0; b < 8; b++)
    for (let c = 0; c < channels; c++)
      for (let k = 0; k < 16; k++) input[(b * channels + c) * 16 + k] = normals(random, 1, means[c], 1)[0];
  const x = dtype === "float32" ? Float32Array.from(input) : input;
  const reference = new Float64Array(x.length);
  for (let c = 0; c < channels; c++) {
    const values: number[] = [];
    for (let b = 0; b < 8; b++) for (let k = 0; k < 16; k++) values.push(x[(b * channels + c) * 16 + k]);
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
    for (let b = 0; b < 8; b++)
      for (let k = 0; k < 16; k++) {
        const i = (b * channels + c) * 16 + k;
        reference[i] = (x[i] - meanOf(mean)) / Math.sqrt(variance + 1e-5);
      }
  }
  const shape = [8, channels, 16];
  return {
    input: tensorFromArray(x, shape, dtype),
    reference: tensorFromArray(dtype === "float32" ? Float32Array.from(reference) : reference, shape, dtype),
  };
}

async function hintsFor(tensors: ReturnType<typeof layer>): Promise<string[]> {
  const request = { framework: "torch" as const, threads: 1 };
  const result = await checkBatchNorm(tensors, request);
  expect(result.output.verdict).toBe("does not conform");
  return explainNonConformance(tensors, request, result);
}

describe("hints", () => {
  it("names a batch mean kept in float16", async () => {
    const hints = await hintsFor(layer([300.3, -517.1, 900.7, 0.2], (mean) => roundTo("float16", mean), "float32"));
    expect(hints.join("\n")).toMatch(/rounding of their batch mean to float16/);
  });

  it("names a float32 mean behind a float64 reference", async () => {
    const hints = await hintsFor(layer([1e4 + 0.3, -2e4 + 0.7, 3e4 + 0.1], (mean) => Math.fround(mean), "float64"));
    expect(hints.join("\n")).toMatch(/rounding of their batch mean to float32/);
  });

  it("one channel off by exactly its float16 rounding, the others exact: a channel that differs, not float16 statistics", async () => {
    const means = [300.3, -517.1, 900.7, 411.9, -250.3, 777.7, 620.1, -333.3, 512.9, 150.7];
    const shifted = means[2];
    const hints = await hintsFor(
      layer(means, (mean) => (Math.abs(mean - shifted) < 1 ? roundTo("float16", mean) : mean), "float32"),
    );
    const text = hints.join("\n");
    expect(text).not.toMatch(/float16/);
    expect(text).toMatch(
      /^channel 2 differs by a constant -?[0-9.e-]+ \(the other 9 channel\(s\) conform\): a shifted channel/m,
    );
  });

  it("says nothing of a reference that conforms", async () => {
    const tensors = layer([300.3, -517.1], (mean) => mean, "float32");
    const request = { framework: "torch" as const, threads: 1 };
    const result = await checkBatchNorm(tensors, request);
    expect(result.output.passed).toBe(true);
    expect(await explainNonConformance(tensors, request, result)).toEqual([]);
  });
});
