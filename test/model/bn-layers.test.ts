// Finding BatchNorm layers by parameter naming, and planning a model's cases from real files.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findBatchNormLayers } from "../../src/app/model/bn-layers.js";
import { DEFAULT_INPUT_KEY, DEFAULT_OUTPUT_KEY, planModel } from "../../src/app/model/model-cases.js";
import { FIXTURES } from "../helpers.js";

describe("findBatchNormLayers", () => {
  it("finds PyTorch layers by their running statistics, affine parameters optional, other layers ignored", () => {
    const names = [
      "conv.weight",
      "bn.weight",
      "bn.bias",
      "bn.running_mean",
      "bn.running_var",
      "bn.num_batches_tracked",
      "plain.running_mean",
      "plain.running_var",
      "ln.weight",
      "ln.bias",
      "half.running_mean",
    ];
    const found = findBatchNormLayers(names);
    expect(found.naming.name).toBe("pytorch");
    expect(found.naming.framework).toBe("torch");
    expect(found.layers).toEqual([
      {
        name: "bn",
        weight: "bn.weight",
        bias: "bn.bias",
        runningMean: "bn.running_mean",
        runningVar: "bn.running_var",
        numBatchesTracked: "bn.num_batches_tracked",
      },
      {
        name: "plain",
        weight: undefined,
        bias: undefined,
        runningMean: "plain.running_mean",
        runningVar: "plain.running_var",
        numBatchesTracked: undefined,
      },
    ]);
  });

  it("finds Keras layers (gamma, beta, moving_mean, moving_variance), scale=False included", () => {
    const names = [
      "conv2d/kernel",
      "batch_normalization/gamma",
      "batch_normalization/beta",
      "batch_normalization/moving_mean",
      "batch_normalization/moving_variance",
      "bn_noscale/beta",
      "bn_noscale/moving_mean",
      "bn_noscale/moving_variance",
    ];
    const found = findBatchNormLayers(names);
    expect(found.naming.name).toBe("keras");
    expect(found.naming.framework).toBe("keras");
    expect(found.layers.map((layer) => [layer.name, layer.weight, layer.bias])).toEqual([
      ["batch_normalization", "batch_normalization/gamma", "batch_normalization/beta"],
      ["bn_noscale", undefined, "bn_noscale/beta"],
    ]);
  });

  it("finds nothing in a file without running statistics", () => {
    expect(findBatchNormLayers(["a.weight", "a.bias"]).layers).toEqual([]);
  });
});

describe("planModel", () => {
  const source = {
    params: join(FIXTURES, "model", "params.safetensors"),
    activations: join(FIXTURES, "model", "train", "acts.safetensors"),
    inputKey: DEFAULT_INPUT_KEY,
    outputKey: DEFAULT_OUTPUT_KEY,
  };

  it("momentum none reads each layer's num_batches_tracked (an I64 scalar) for the cumulative average", () => {
    const plan = planModel(source, { mode: "train", momentum: null });
    expect(plan.cases).toHaveLength(34);
    // generate_model.py ran three train-mode calls before saving the parameters.
    expect(new Set(plan.cases.map((c) => c.numBatchesTracked))).toEqual(new Set([3]));
    expect(planModel(source, { mode: "train", momentum: 0.1 }).cases[0].numBatchesTracked).toBeUndefined();
    // The same counter from torch.save's int64 tensor.
    const fromPt = planModel(
      { ...source, params: join(FIXTURES, "model", "params.pt") },
      { mode: "train", momentum: null },
    );
    expect(new Set(fromPt.cases.map((c) => c.numBatchesTracked))).toEqual(new Set([3]));
  });

  it("a layer's files are file:key specs into the parameters and activations", () => {
    const [first] = planModel(source, { mode: "eval" }).cases;
    expect(first.files).toEqual({
      input: `${source.activations}:features.0.1.input`,
      reference: `${source.activations}:features.0.1.output`,
      weight: `${source.params}:features.0.1.weight`,
      bias: `${source.params}:features.0.1.bias`,
      runningMean: `${source.params}:features.0.1.running_mean`,
      runningVar: `${source.params}:features.0.1.running_var`,
    });
    expect(first.framework).toBe("torch");
  });
});
