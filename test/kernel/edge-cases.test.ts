// Numeric edge cases, with the semantics the README documents.
import { describe, expect, it } from "vitest";
import { compareTensors } from "../../src/check/compare.js";
import { batchNorm } from "../../src/check/batch-norm.js";
import { checkBatchNorm } from "../../src/check/check.js";
import { referenceBatchNormF64 } from "../../src/kernel/reference-f64.js";
import { tensorFromArray } from "../../src/core/tensor.js";

const channel = (data: ArrayLike<number>, c: number, channels = 2, inner = 2) =>
  Array.from(data).filter((_, i) => Math.floor(i / inner) % channels === c);

describe("non-finite values", () => {
  it("NaN in the input makes its channel's output and running statistics NaN, and no other channel's", async () => {
    const input = tensorFromArray([1, NaN, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    const result = await batchNorm({ input }, { threads: 1 });
    expect(channel(result.output.data, 0).every(Number.isNaN)).toBe(true);
    expect(channel(result.output.data, 1).some(Number.isNaN)).toBe(false);
    expect(Number.isNaN(result.runningMean![0])).toBe(true);
    expect(Number.isFinite(result.runningMean![1])).toBe(true);
  });

  it("an infinity in the input gives its channel NaN (the variance is inf - inf)", async () => {
    const result = await batchNorm(
      { input: tensorFromArray([1, Infinity, 3, 4, 5, 6, 7, 8], [2, 2, 2]) },
      { threads: 1 },
    );
    expect(channel(result.output.data, 0).every(Number.isNaN)).toBe(true);
    expect(result.batchMean![0]).toBe(Infinity);
  });

  it("NaN in the weight and an infinity in the bias reach only their channel", async () => {
    const input = tensorFromArray([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    const result = await batchNorm(
      { input, weight: tensorFromArray([NaN, 1], [2]), bias: tensorFromArray([0, -Infinity], [2]) },
      { threads: 1 },
    );
    expect(channel(result.output.data, 0).every(Number.isNaN)).toBe(true);
    expect(channel(result.output.data, 1)).toEqual([-Infinity, -Infinity, -Infinity, -Infinity]);
  });

  it("NaN in the reference where bn-check is finite is a non-finite mismatch, and no tolerance would pass", async () => {
    const input = tensorFromArray([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    const reference = (await batchNorm({ input }, { threads: 1 })).output;
    reference.data[3] = NaN;
    const result = await checkBatchNorm({ input, reference }, { threads: 1, equalNan: true });
    expect([result.output.mismatches, result.output.nonFiniteMismatches, result.output.requiredAtol]).toEqual([
      1,
      1,
      Infinity,
    ]);
  });
});

describe("sizes", () => {
  it("a zero-size batch gives an empty output, NaN batch statistics, and an empty comparison that conforms", async () => {
    const input = tensorFromArray([], [0, 3, 4]);
    const result = await batchNorm({ input }, { threads: 1 });
    expect(result.output.shape).toEqual([0, 3, 4]);
    expect(Number.isNaN(result.batchMean![0])).toBe(true);
    const check = await checkBatchNorm({ input, reference: input }, { threads: 1 });
    expect([check.conforms, check.output.count]).toEqual([true, 0]);
  });

  it("a zero spatial dimension behaves the same", async () => {
    const result = await batchNorm({ input: tensorFromArray([], [2, 3, 0]) }, { framework: "onnx", threads: 1 });
    expect(result.output.data.length).toBe(0);
    expect(Number.isNaN(result.batchVariance![2])).toBe(true);
  });

  it("a batch of one in eval mode is fine (running statistics are used)", async () => {
    const input = tensorFromArray([3, -1], [1, 2]);
    const result = await batchNorm(
      { input, runningMean: tensorFromArray([1, 1], [2]), runningVar: tensorFromArray([4, 1], [2]) },
      { mode: "eval", epsilon: 1e-5, threads: 1 },
    );
    expect(result.output.data[0]).toBeCloseTo(2 / Math.sqrt(4 + 1e-5), 6);
  });

  it("one value per channel in training: torch refuses it, keras3 gives the bias (variance 0)", async () => {
    const input = tensorFromArray([3, -1], [1, 2]);
    await expect(batchNorm({ input }, { threads: 1 })).rejects.toThrow(
      /Expected more than 1 value per channel when training/,
    );
    const result = await batchNorm(
      { input, bias: tensorFromArray([0.5, -2], [2]) },
      { framework: "keras3", threads: 1 },
    );
    expect(Array.from(result.output.data)).toEqual([0.5, -2]);
  });
});

describe("magnitudes", () => {
  it("huge float32 values (1e30) do not overflow the statistics", async () => {
    const values = [1e30, -1e30, 3e30, -3e30, 2e30, 0, -2e30, 1e29];
    const result = await batchNorm({ input: tensorFromArray(values, [8, 1]) }, { threads: 1 });
    const oracle = referenceBatchNormF64(values.map(Math.fround), [8, 1], 1, 1e-5);
    expect(Number.isFinite(result.batchVariance![0])).toBe(true);
    for (let i = 0; i < 8; i++) expect(result.output.data[i]).toBeCloseTo(Math.fround(oracle.output[i]), 6);
  });

  it("subnormal inputs are normalised by eps as float64 arithmetic says (within float64 rounding)", async () => {
    const values = [1e-40, -1e-40, 3e-41, 5e-42].map(Math.fround);
    const result = await batchNorm(
      { input: tensorFromArray(values, [4, 1], "float32") },
      { threads: 1, outputDtype: "float64" },
    );
    const oracle = referenceBatchNormF64(values, [4, 1], 1, 1e-5);
    for (let i = 0; i < 4; i++)
      expect(Math.abs(result.output.data[i] - oracle.output[i])).toBeLessThanOrEqual(
        4 * 2 ** -52 * Math.abs(oracle.output[i]),
      );
    expect(result.output.data[0]).toBeGreaterThan(0);
  });

  it("a float16 reference that overflowed to +Inf matches a result that rounds to +Inf in float16, and only then", () => {
    const expected = { shape: [3], data: Float32Array.from([Infinity, Infinity, 1]), dtype: "float16" as const };
    const result = compareTensors({ shape: [3], data: [70000, 1000, 1] }, expected);
    expect(result.mismatches).toBe(1);
    expect(result.worst[0].flatIndex).toBe(1);
  });
});
