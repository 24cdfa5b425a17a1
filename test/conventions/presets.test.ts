// What each preset computes, end to end through the kernel: the differences between frameworks
// written as formulas over the same batch.
import { describe, expect, it } from "vitest";
import { batchNorm } from "../../src/check/batch-norm.js";
import { tensorFromArray } from "../../src/core/tensor.js";
import { normals, seededRandom } from "../helpers.js";

const random = seededRandom(9);
const shape = [4, 3, 3, 2];
const values = normals(random, 4 * 3 * 3 * 2, 1, 2);
const input = tensorFromArray(values, shape, "float64");
const n = 4 * 3 * 3; // elements per channel on the last axis (NHWC, C = 2)

describe("preset numerics on one NHWC batch (C = 2, N = 36 per channel)", () => {
  it("tf (Keras 2) on rank 4 is fused: eps 1e-5 is raised to 1.001e-5 and the moving variance is unbiased", async () => {
    const keras = await batchNorm({ input }, { framework: "tf", epsilon: 1e-5, threads: 1 });
    const torchAtFloor = await batchNorm(
      { input },
      { framework: "torch", layout: "NHWC", epsilon: 1.001e-5, threads: 1 },
    );
    expect(Array.from(keras.output.data)).toEqual(Array.from(torchAtFloor.output.data));
    for (let c = 0; c < 2; c++) {
      const unbiased = (keras.batchVariance![c] * n) / (n - 1);
      expect(keras.runningVar![c]).toBeCloseTo(0.99 * 1 + 0.01 * unbiased, 14);
      expect(keras.runningMean![c]).toBeCloseTo(0.01 * keras.batchMean![c], 14);
    }
  });

  it("tf on rank 3 is not fused: eps 1e-5 is kept and the moving variance is biased", async () => {
    const flat = tensorFromArray(values, [12, 3, 2], "float64");
    const keras = await batchNorm({ input: flat }, { framework: "tf", epsilon: 1e-5, threads: 1 });
    const torch = await batchNorm({ input: flat }, { framework: "torch", channelAxis: -1, epsilon: 1e-5, threads: 1 });
    expect(Array.from(keras.output.data)).toEqual(Array.from(torch.output.data));
    for (let c = 0; c < 2; c++) expect(keras.runningVar![c]).toBeCloseTo(0.99 + 0.01 * keras.batchVariance![c], 14);
  });

  it("torch updates running var with the unbiased variance weighted by momentum; onnx, flax and keras3 with the biased one weighted by 1 - momentum", async () => {
    const torch = await batchNorm({ input }, { framework: "torch", layout: "NHWC", momentum: 0.1, threads: 1 });
    const onnx = await batchNorm({ input }, { framework: "onnx", layout: "NHWC", momentum: 0.9, threads: 1 });
    const flax = await batchNorm({ input }, { framework: "flax", momentum: 0.9, threads: 1 });
    const keras3 = await batchNorm({ input }, { framework: "keras3", momentum: 0.9, threads: 1 });
    for (let c = 0; c < 2; c++) {
      const biased = torch.batchVariance![c];
      expect(torch.runningVar![c]).toBeCloseTo(0.9 + 0.1 * ((biased * n) / (n - 1)), 14);
      for (const result of [flax, keras3]) expect(result.runningVar![c]).toBeCloseTo(0.9 + 0.1 * biased, 14);
      // ONNX's momentum is a float32 attribute: 0.9 is 0.89999997615814208984375.
      const m = Math.fround(0.9);
      expect(onnx.runningVar![c]).toBeCloseTo(m + (1 - m) * biased, 14);
      expect(Math.abs(onnx.runningVar![c] - (0.9 + 0.1 * biased))).toBeGreaterThan(1e-9);
    }
  });

  it("torch momentum none with 4 batches tracked weights the new batch by 1/5", async () => {
    const result = await batchNorm(
      {
        input,
        runningMean: tensorFromArray([2, 2], [2], "float64"),
        runningVar: tensorFromArray([1, 1], [2], "float64"),
      },
      { framework: "torch", layout: "NHWC", momentum: null, numBatchesTracked: 4, threads: 1 },
    );
    for (let c = 0; c < 2; c++)
      expect(result.runningMean![c]).toBeCloseTo((4 / 5) * 2 + (1 / 5) * result.batchMean![c], 14);
  });

  it("tf-nn keeps no running statistics and defaults to eps 1e-3, as TF.js does", async () => {
    const result = await batchNorm({ input }, { framework: "tf-nn", threads: 1 });
    expect(result.runningMean).toBeNull();
    expect(result.params.epsilon).toBe(1e-3);
  });
});
