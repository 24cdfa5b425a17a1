import { describe, expect, it } from "vitest";
import { conventions } from "../../src/conventions/index.js";
import { resolveConvention } from "../../src/conventions/resolve.js";

describe("resolveConvention", () => {
  it("torch: channel axis 1, eps 1e-5, momentum 0.1 weighting the new batch, unbiased running var", () => {
    const p = resolveConvention(conventions.torch, [4, 3, 2, 2]);
    expect([p.channelAxis, p.layout, p.epsilon, p.batchWeight, p.runningWeight, p.runningVarCorrection]).toEqual([
      1,
      "NCHW",
      1e-5,
      0.1,
      0.9,
      1,
    ]);
  });

  it("torch momentum none is a cumulative average over num_batches_tracked + 1", () => {
    const p = resolveConvention(conventions.torch, [4, 3], { momentum: null, numBatchesTracked: 3 });
    expect(p.batchWeight).toBe(1 / 4);
    expect(p.runningWeight).toBe(3 / 4);
  });

  it("keras (tf.keras) on a 4-D channels-last input takes the fused path: eps floor 1.001e-5 and unbiased moving variance", () => {
    const p = resolveConvention(conventions.keras, [2, 4, 4, 3], { epsilon: 1e-5 });
    expect(p.variant).toBe("fused");
    expect(p.epsilon).toBe(1.001e-5);
    expect(p.requestedEpsilon).toBe(1e-5);
    expect(p.runningVarCorrection).toBe(1);
    expect([p.runningWeight, p.batchWeight]).toEqual([0.99, 1 - 0.99]);
  });

  it("keras with channel axis 1 on rank 4 is fused too; on rank 2 or a middle axis it is not", () => {
    expect(resolveConvention(conventions.tf, [2, 3, 4, 4], { channelAxis: 1 }).variant).toBe("fused");
    const flat = resolveConvention(conventions.tf, [8, 3], { epsilon: 1e-5 });
    expect([flat.variant, flat.epsilon, flat.runningVarCorrection]).toEqual([null, 1e-5, 0]);
    expect(resolveConvention(conventions.tf, [2, 3, 4, 4], { channelAxis: 2 }).variant).toBeNull();
  });

  it("an eps above the floor is kept as given", () => {
    expect(resolveConvention(conventions.tf, [2, 4, 4, 3]).epsilon).toBe(1e-3);
  });

  it("keras3, onnx and flax take the biased variance and weight the old running value", () => {
    for (const [name, axis, eps, momentum] of [
      ["keras3", 3, 1e-3, 0.99],
      ["onnx", 1, Math.fround(1e-5), Math.fround(0.9)],
      ["flax", 3, 1e-5, 0.99],
    ] as const) {
      const p = resolveConvention(conventions[name], [2, 3, 4, 5]);
      expect([p.channelAxis, p.epsilon, p.runningWeight, p.runningVarCorrection, p.variant]).toEqual([
        axis,
        eps,
        momentum,
        0,
        null,
      ]);
    }
  });

  it("onnx holds eps and momentum as float32 attributes, and says so; the others keep them as given", () => {
    const onnx = resolveConvention(conventions.onnx, [3, 4], { epsilon: 0.1, momentum: 0.8 });
    expect(onnx.epsilon).toBe(0.10000000149011612);
    expect(onnx.requestedEpsilon).toBe(0.1);
    expect([onnx.momentum, onnx.runningWeight, onnx.batchWeight]).toEqual([
      0.8,
      0.800000011920929,
      1 - 0.800000011920929,
    ]);
    expect(onnx.notes).toContain("eps 0.1 is 0.10000000149011612 as onnx holds it (float32)");
    expect(onnx.notes).toContain("momentum 0.8 is 0.800000011920929 as onnx holds it (float32)");
    // A value that is already a float32 is left alone, without a note.
    const stored = resolveConvention(conventions.onnx, [3, 4], { epsilon: 0.5, momentum: 0.5 });
    expect([stored.epsilon, stored.runningWeight]).toEqual([0.5, 0.5]);
    expect(stored.notes.some((note) => note.includes("holds it"))).toBe(false);
    for (const name of ["torch", "keras3", "flax", "tf"] as const) {
      const p = resolveConvention(conventions[name], [3, 4], { epsilon: 0.1, momentum: 0.8 });
      expect(p.epsilon).toBe(0.1);
      expect([p.runningWeight, p.batchWeight]).toContain(0.8);
    }
  });

  it("tf-nn has no running statistics and the tfjs default eps 1e-3", () => {
    const p = resolveConvention(conventions["tf-nn"], [5, 4]);
    expect([p.hasRunningStats, p.epsilon, p.channelAxis]).toEqual([false, 1e-3, 1]);
  });

  it("rejects what the framework would reject, with a message that names the value", () => {
    expect(() => resolveConvention(conventions.torch, [4, 3], { channelAxis: 2 })).toThrow(
      "channel axis 2 is out of range for a rank-2 input (valid: -2..1)",
    );
    expect(() => resolveConvention(conventions.torch, [4, 3], { layout: "NCHW" })).toThrow(
      "layout NCHW expects a rank-4 input, but the input has shape [4, 3] (rank 2)",
    );
    expect(() => resolveConvention(conventions.torch, [4, 3], { epsilon: 0 })).toThrow(
      "eps must be a finite number > 0; got 0",
    );
    expect(() => resolveConvention(conventions.torch, [4, 3], { momentum: 1.5 })).toThrow(
      "momentum must be in [0, 1] for torch; got 1.5",
    );
    expect(() => resolveConvention(conventions.onnx, [4, 3], { momentum: null })).toThrow(
      "momentum none (a cumulative average) exists only in PyTorch",
    );
    expect(() => resolveConvention(conventions.torch, [4])).toThrow("BatchNorm needs an input of rank >= 2");
  });
});
