// The error model against float32 BatchNorm implementations written here with Math.fround, the way
// real frameworks reduce (wider accumulation as PyTorch's CPU, pairwise and blocked float32 sums as
// XLA, per-thread Welford merged with Chan's formula as cuDNN), over random ill-conditioned data:
// every one of them must conform, and an error 5x beyond the allowance must not.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { checkBatchNorm, closePool, tensorFromArray } from "../../src/index.js";
import { join } from "node:path";
import { channelBound, MODEL_CONSTANTS, summationFactor, UNIT_ROUNDOFF } from "../../src/check/error-model.js";
import { resolveTolerance } from "../../src/check/tolerance.js";
import { FIXTURES, normals, runCli, seededRandom } from "../helpers.js";

afterAll(async () => {
  await closePool();
});

const f = Math.fround;
type Sum = (values: readonly number[]) => number;

/** Sum in float64, rounded once (PyTorch CPU's contiguous path: acc_type<float> is double). */
const wideSum: Sum = (values) => f(values.reduce((a, b) => a + b, 0));
/** Pairwise float32 sum (a reduction tree). */
const pairwiseSum: Sum = (values) => {
  if (values.length <= 2) return values.length === 0 ? 0 : values.length === 1 ? values[0] : f(values[0] + values[1]);
  const half = values.length >> 1;
  return f(pairwiseSum(values.slice(0, half)) + pairwiseSum(values.slice(half)));
};
/** Blocks of 8 summed sequentially in float32, then the blocks sequentially (XLA-style partial sums). */
const blockedSum: Sum = (values) => {
  let total = 0;
  for (let start = 0; start < values.length; start += 8) {
    let block = 0;
    for (let i = start; i < Math.min(start + 8, values.length); i++) block = f(block + values[i]);
    total = f(total + block);
  }
  return total;
};

interface Statistics {
  readonly mean: number;
  readonly variance: number;
}

/** Two-pass statistics with a given float32 summation: mean, then Σ fl(x − mean)². */
function twoPass(values: readonly number[], sum: Sum): Statistics {
  const n = values.length;
  const mean = f(sum(values) / n);
  const squares = values.map((x) => {
    const d = f(x - mean);
    return f(d * d);
  });
  return { mean, variance: f(sum(squares) / n) };
}

/** Welford per "thread" over contiguous chunks in float32, merged with Chan et al.'s update (cuDNN). */
function welford(values: readonly number[], threads: number): Statistics {
  const parts: { n: number; mean: number; m2: number }[] = [];
  const chunk = Math.ceil(values.length / threads);
  for (let start = 0; start < values.length; start += chunk) {
    let n = 0;
    let mean = 0;
    let m2 = 0;
    for (let i = start; i < Math.min(start + chunk, values.length); i++) {
      n++;
      const delta = f(values[i] - mean);
      mean = f(mean + f(delta / n));
      m2 = f(m2 + f(delta * f(values[i] - mean)));
    }
    parts.push({ n, mean, m2 });
  }
  let merged = parts[0];
  for (const part of parts.slice(1)) {
    const n = merged.n + part.n;
    const delta = f(part.mean - merged.mean);
    merged = {
      n,
      mean: f(merged.mean + f(delta * f(part.n / n))),
      m2: f(f(merged.m2 + part.m2) + f(f(delta * delta) * f((merged.n * part.n) / n))),
    };
  }
  return { mean: merged.mean, variance: f(merged.m2 / merged.n) };
}

const STATISTICS: Record<string, (values: readonly number[]) => Statistics> = {
  "two-pass, wide sums": (v) => twoPass(v, wideSum),
  "two-pass, pairwise float32": (v) => twoPass(v, pairwiseSum),
  "two-pass, blocked float32": (v) => twoPass(v, blockedSum),
  "Welford float32, 4 chunks": (v) => welford(v, 4),
};

/** y in float32, as written: ((x − μ)·s) + β, or folded as x·s + (β − μ·s) (PyTorch's CPU eval path). */
function normalise(
  x: number,
  mean: number,
  variance: number,
  epsilon: number,
  weight: number,
  bias: number,
  folded: boolean,
): number {
  const s = f(weight / f(Math.sqrt(f(variance + epsilon))));
  if (folded) return f(f(x * s) + f(bias - f(mean * s)));
  return f(f(f(x - mean) * s) + bias);
}

interface Layer {
  readonly shape: number[];
  readonly input: Float32Array;
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
}

/** NCHW data whose channels range from well-conditioned to |mean|/std = 1e5, and a constant one. */
function illConditionedLayer(seed: number, batch: number, channels: number, spatial: number): Layer {
  const random = seededRandom(seed);
  const shape = [batch, channels, spatial, spatial];
  const input = new Float32Array(batch * channels * spatial * spatial);
  const perChannel = spatial * spatial;
  for (let c = 0; c < channels; c++) {
    const std = 10 ** (-2 + 3 * random());
    const mean = (random() < 0.5 ? -1 : 1) * std * 10 ** (5 * random());
    const constant = c === channels - 1;
    const values = normals(random, batch * perChannel, mean, constant ? 0 : std);
    for (let b = 0; b < batch; b++)
      for (let k = 0; k < perChannel; k++) input[(b * channels + c) * perChannel + k] = values[b * perChannel + k];
  }
  const weight = Float32Array.from(normals(random, channels, 1, 0.5));
  const bias = Float32Array.from(normals(random, channels, 0, 1));
  // Running statistics near the batch's (eval): what a trained layer holds.
  const runningMean = new Float32Array(channels);
  const runningVar = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const values = channelValues(input, shape, c);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    runningMean[c] = mean * (1 + 1e-4 * (random() - 0.5));
    runningVar[c] = values.reduce((a, x) => a + (x - mean) ** 2, 0) / values.length + 1e-6 * random();
  }
  return { shape, input, weight, bias, runningMean, runningVar };
}

function channelValues(input: Float32Array, shape: readonly number[], c: number): number[] {
  const [batch, channels] = shape;
  const perChannel = input.length / (batch * channels);
  const values: number[] = [];
  for (let b = 0; b < batch; b++)
    for (let k = 0; k < perChannel; k++) values.push(input[(b * channels + c) * perChannel + k]);
  return values;
}

/** The whole layer through one float32 implementation. */
function float32BatchNorm(
  layer: Layer,
  statistics: ((values: readonly number[]) => Statistics) | null,
  folded: boolean,
  epsilon: number,
): Float32Array {
  const [batch, channels] = layer.shape;
  const perChannel = layer.input.length / (batch * channels);
  const output = new Float32Array(layer.input.length);
  for (let c = 0; c < channels; c++) {
    const stats =
      statistics === null
        ? { mean: layer.runningMean[c], variance: layer.runningVar[c] }
        : statistics(channelValues(layer.input, layer.shape, c));
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < perChannel; k++) {
        const i = (b * channels + c) * perChannel + k;
        output[i] = normalise(
          layer.input[i],
          stats.mean,
          stats.variance,
          epsilon,
          layer.weight[c],
          layer.bias[c],
          folded,
        );
      }
    }
  }
  return output;
}

function tensors(layer: Layer, reference: Float32Array) {
  return {
    input: tensorFromArray(layer.input, layer.shape, "float32"),
    reference: tensorFromArray(reference, layer.shape, "float32"),
    weight: tensorFromArray(layer.weight, [layer.weight.length], "float32"),
    bias: tensorFromArray(layer.bias, [layer.bias.length], "float32"),
    runningMean: tensorFromArray(layer.runningMean, [layer.runningMean.length], "float32"),
    runningVar: tensorFromArray(layer.runningVar, [layer.runningVar.length], "float32"),
  };
}

describe("the error model", () => {
  it("admits every stable float32 implementation on ill-conditioned data (train: four reductions, folded and not)", async () => {
    let withinArithmetic = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 3, max: 9 }),
        fc.constantFrom(...Object.keys(STATISTICS)),
        fc.boolean(),
        async (seed, batch, spatial, method, folded) => {
          const layer = illConditionedLayer(seed, batch, 6, spatial);
          const reference = float32BatchNorm(layer, STATISTICS[method], folded, 1e-5);
          const result = await checkBatchNorm(tensors(layer, reference), {
            framework: "torch",
            mode: "train",
            threads: 1,
          });
          expect(
            result.output.mismatches,
            `${method}${folded ? ", folded" : ""}: max ratio ${result.output.bound?.maxRatio}`,
          ).toBe(0);
          if (result.output.verdict === "conforms within arithmetic") withinArithmetic++;
        },
      ),
      { seed: 1013, numRuns: 120 },
    );
    // The data is ill-conditioned enough that the flat tolerance alone would reject most of them.
    expect(withinArithmetic).toBeGreaterThan(60);
  });

  it("admits float32 eval outputs, folded (PyTorch CPU) and as written", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 2, max: 6 }), fc.boolean(), async (seed, spatial, folded) => {
        const layer = illConditionedLayer(seed, 3, 5, spatial);
        const reference = float32BatchNorm(layer, null, folded, 1e-5);
        const result = await checkBatchNorm(tensors(layer, reference), {
          framework: "torch",
          mode: "eval",
          threads: 1,
        });
        expect(result.output.mismatches).toBe(0);
      }),
      { seed: 2027, numRuns: 60 },
    );
  });

  it("reports an element moved 5x beyond its allowance, in any channel, however ill-conditioned", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(), fc.constantFrom(...Object.keys(STATISTICS)), async (seed, pick, method) => {
        const layer = illConditionedLayer(seed, 4, 6, 5);
        const reference = float32BatchNorm(layer, STATISTICS[method], false, 1e-5);
        const index = pick % reference.length;
        const c = Math.floor(index / 25) % 6;
        const values = channelValues(layer.input, layer.shape, c);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        const variance = values.reduce((a, x) => a + (x - mean) ** 2, 0) / values.length;
        const channel = {
          count: values.length,
          mean,
          variance,
          epsilon: 1e-5,
          weight: layer.weight[c],
          bias: layer.bias[c],
          batchStatistics: true,
        };
        // The element's allowance, from the model's terms: max(flat tolerance, B).
        const own = channelBound(channel, UNIT_ROUNDOFF.float32);
        const f64 = channelBound(channel, UNIT_ROUNDOFF.float64);
        const x = layer.input[index];
        const y = (x - mean) * own.s + layer.bias[c];
        const bound =
          own.constant +
          f64.constant +
          (own.perAbsInput + f64.perAbsInput) * Math.abs(x) +
          (own.perAbsCentred + f64.perAbsCentred) * Math.abs(y - layer.bias[c]) +
          (own.perAbsOutput + f64.perAbsOutput) * Math.abs(y);
        const flat = resolveTolerance("float32");
        const allowance = Math.max(flat.atol + flat.rtol * Math.abs(y), bound);
        const moved = Float32Array.from(reference);
        moved[index] = f(y + 5 * allowance * (reference[index] >= y ? 1 : -1));
        const result = await checkBatchNorm(tensors(layer, moved), { framework: "torch", mode: "train", threads: 1 });
        expect(result.output.verdict).toBe("does not conform");
        expect(result.output.mismatches).toBe(1);
        expect(result.output.channels[c].mismatches).toBe(1);
      }),
      { seed: 31, numRuns: 80 },
    );
  });

  it("keeps a well-conditioned channel's tight check next to an ill-conditioned one (a shift found only in the good channel)", async () => {
    const layer = illConditionedLayer(5, 4, 6, 5);
    // Channel 0 well conditioned, channel 1 at |mean|/std 1e5.
    const random = seededRandom(9);
    const good = normals(random, 100, 0.5, 1);
    const bad = normals(random, 100, 1e5, 1);
    for (let b = 0; b < 4; b++) {
      for (let k = 0; k < 25; k++) {
        layer.input[(b * 6 + 0) * 25 + k] = good[b * 25 + k];
        layer.input[(b * 6 + 1) * 25 + k] = bad[b * 25 + k];
      }
    }
    const reference = float32BatchNorm(layer, STATISTICS["two-pass, wide sums"], false, 1e-5);
    const clean = await checkBatchNorm(tensors(layer, reference), { framework: "torch", threads: 1 });
    expect(clean.output.passed).toBe(true);
    expect(clean.output.channels[1].flatMismatches).toBeGreaterThan(0);
    // A shift of 5e-5 in channel 0: 5x the flat tolerance there, far below channel 1's bound.
    const shifted = Float32Array.from(reference);
    for (let b = 0; b < 4; b++)
      for (let k = 0; k < 25; k++) shifted[b * 6 * 25 + k] = f(shifted[b * 6 * 25 + k] + 5e-5);
    const result = await checkBatchNorm(tensors(layer, shifted), { framework: "torch", threads: 1 });
    expect(result.output.verdict).toBe("does not conform");
    expect(result.output.channels.map((channel) => channel.mismatches > 0)).toEqual([
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(result.output.channels[1].conditioning).toBeGreaterThan(1e4);
  });

  it("--strict judges by the flat tolerance alone", async () => {
    const layer = illConditionedLayer(11, 4, 6, 5);
    const reference = float32BatchNorm(layer, STATISTICS["two-pass, wide sums"], true, 1e-5);
    const modelled = await checkBatchNorm(tensors(layer, reference), { framework: "torch", threads: 1 });
    const strict = await checkBatchNorm(tensors(layer, reference), { framework: "torch", threads: 1, strict: true });
    expect(modelled.verdict).toBe("conforms within arithmetic");
    expect(strict.verdict).toBe("does not conform");
    expect(strict.output.mismatches).toBe(modelled.output.flatMismatches);
    expect(strict.output.bound).toBeNull();
  });

  it("names the dominant term: the mean's rounding on large-mean data", async () => {
    const layer = illConditionedLayer(3, 4, 2, 5);
    const random = seededRandom(4);
    const values = normals(random, 200, 3e4, 1);
    layer.input.set(values.map(f));
    const reference = float32BatchNorm(layer, STATISTICS["two-pass, wide sums"], false, 1e-5);
    const result = await checkBatchNorm(tensors(layer, reference), { framework: "torch", threads: 1 });
    expect(result.output.verdict).toBe("conforms within arithmetic");
    expect(result.output.bound?.dominantTerm).toBe("rounding of the batch mean to float32");
    expect(MODEL_CONSTANTS.sum).toBeGreaterThan(0);
  });
});

describe("a constant channel's mean: correlated roundings", () => {
  const C = join(FIXTURES, "constchan");
  it("a float32 mean that drifts 20 u over 80 equal values is within arithmetic; the √n bound alone rejected it", () => {
    const run = runCli([
      "compare",
      join(C, "input.npy"),
      join(C, "ref.npy"),
      "--weight",
      join(C, "weight.npy"),
      "--bias",
      join(C, "bias.npy"),
      "--format",
      "json",
    ]);
    expect(run.status, run.stdout.slice(0, 400)).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.verdict).toBe("conforms within arithmetic");
    // Without the deterministic term the same bound would be about 7x tighter on this channel: > 1.
    expect(report.tensors[0].bound.maxRatio).toBeGreaterThan(0.1);
    expect(report.tensors[0].bound.maxRatio).toBeLessThan(1);
  });

  it("the deterministic term applies only where the spread is within a few ulps of the mean", () => {
    const u = 2 ** -24;
    expect(summationFactor(80, 28.19, 0, u)).toBe(79);
    expect(summationFactor(80, 28.19, (28.19 * 8 * u) ** 2, u)).toBe(79);
    // An ill-conditioned but not constant channel (|mean|/std 1e5) keeps the probabilistic bound.
    expect(summationFactor(392, 1e5, 1, u)).toBeCloseTo(1 + 0.75 * Math.sqrt(392), 12);
    expect(summationFactor(4, 3, 1, u)).toBeCloseTo(2.5, 12);
    expect(summationFactor(4, 3, 0, u)).toBe(3);
  });
});
