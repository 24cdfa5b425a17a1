// BatchNorm's gradients against a plain float64 transcription of the formulas (written apart from
// the kernel, element by element), and the checks a user gets through the real binary on real
// PyTorch and TensorFlow.js gradients (fixtures copied from the reference corpus).
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeError } from "../../dist/app/cases/fields.js";
import {
  batchNormGradients,
  CheckInputError,
  checkBatchNorm,
  closePool,
  readNpy,
  tensorFromArray,
  type Tensor,
} from "../../dist/index.js";
import { compareArgs } from "../../scripts/corpus-args.mjs";
import { FIXTURES, normals, runCli, seededRandom } from "../helpers.js";

afterAll(async () => {
  await closePool();
});

/** dx, dγ, dβ of sum(y·dy) for NCHW-like [N, C, L] data, straight from the definitions. */
function naiveGradients(
  x: number[],
  dy: number[],
  [n, c, l]: number[],
  gamma: number[],
  eps: number,
  given: { mean: number[]; variance: number[] } | null,
) {
  const dx = new Array<number>(x.length).fill(0);
  const dGamma: number[] = [];
  const dBeta: number[] = [];
  const m = n * l;
  for (let ch = 0; ch < c; ch++) {
    const at: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < l; j++) at.push((i * c + ch) * l + j);
    const mean = given ? given.mean[ch] : at.reduce((s, k) => s + x[k], 0) / m;
    const variance = given ? given.variance[ch] : at.reduce((s, k) => s + (x[k] - mean) ** 2, 0) / m;
    const r = 1 / Math.sqrt(variance + eps);
    const xHat = at.map((k) => (x[k] - mean) * r);
    const meanDy = at.reduce((s, k) => s + dy[k], 0) / m;
    const meanDyXHat = at.reduce((s, k, t) => s + dy[k] * xHat[t], 0) / m;
    at.forEach((k, t) => {
      dx[k] = given ? gamma[ch] * r * dy[k] : gamma[ch] * r * (dy[k] - meanDy - xHat[t] * meanDyXHat);
    });
    dGamma.push(at.reduce((s, k, t) => s + dy[k] * xHat[t], 0));
    dBeta.push(at.reduce((s, k) => s + dy[k], 0));
  }
  return { dx, dGamma, dBeta };
}

describe("checkBatchNorm's gradients", () => {
  const shape = [6, 3, 10];
  const random = seededRandom(11);
  const x = normals(random, 180, 2, 3);
  const dy = normals(random, 180);
  const gamma = [0.5, -1.5, 2];
  const runningMean = [1.5, 2.5, 1];
  const runningVar = [8, 9, 10];
  const f64 = (values: number[], dims: number[] = shape): Tensor => tensorFromArray(values, dims, "float64");
  const exact = { atol: 0, rtol: 1e-13, strict: true };

  for (const mode of ["train", "eval"] as const) {
    it(`agrees with the formulas to float64 precision in ${mode} mode, and finds an error of 1e-9`, async () => {
      const given = mode === "eval" ? { mean: runningMean, variance: runningVar } : null;
      const expected = naiveGradients(x, dy, shape, gamma, 1e-5, given);
      const tensors = {
        input: f64(x),
        reference: f64(x),
        weight: f64(gamma, [3]),
        runningMean: f64(runningMean, [3]),
        runningVar: f64(runningVar, [3]),
        gradOutput: f64(dy),
        referenceGradInput: f64(expected.dx),
        referenceGradWeight: f64(expected.dGamma, [3]),
        referenceGradBias: f64(expected.dBeta, [3]),
      };
      const result = await checkBatchNorm(tensors, { mode, threads: 1, ...exact });
      for (const t of [result.gradInput!, result.gradWeight!, result.gradBias!]) {
        expect([t.name, t.mismatches]).toEqual([t.name, 0]);
        expect(t.maxAbsError?.absError ?? 0).toBeLessThan(1e-13);
      }
      const off = [...expected.dx];
      off[37] += 1e-9 * Math.max(1, Math.abs(off[37]));
      const wrong = await checkBatchNorm({ ...tensors, referenceGradInput: f64(off) }, { mode, threads: 1, ...exact });
      expect(wrong.gradInput!.mismatches).toBe(1);
      expect(wrong.gradInput!.maxAbsError!.flatIndex).toBe(37);
      expect(wrong.conforms).toBe(false);
    });
  }

  it("refuses dy of another shape, and references without dy", async () => {
    const base = { input: f64(x), reference: f64(x) };
    await expect(
      checkBatchNorm({ ...base, gradOutput: f64(dy.slice(0, 60), [2, 3, 10]), referenceGradBias: f64([0, 0, 0], [3]) }),
    ).rejects.toThrow("grad output has shape [2, 3, 10], but the input has [6, 3, 10]: they must be the same");
    // The library names what is missing by its own field; the CLI (below) by its flag.
    const missing = await checkBatchNorm({ ...base, referenceGradInput: f64(dy) }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(CheckInputError);
    expect((missing as CheckInputError).message).toBe(
      "gradient references need the upstream gradient: give gradOutput",
    );
    expect((missing as CheckInputError).fields).toEqual(["gradOutput"]);
    expect(describeError(missing)).toBe("gradient references need the upstream gradient: give --grad-output");
    const eval_ = await checkBatchNorm({ ...base }, { mode: "eval" }).catch((error: unknown) => error);
    expect((eval_ as CheckInputError).fields).toEqual(["runningMean", "runningVar", "mode"]);
    expect(describeError(eval_)).toBe(
      "eval mode normalises with the running statistics: give --running-mean " +
        "and --running-var (or use --mode train for batch statistics)",
    );
  });
});

const GRAD_CPU = join(FIXTURES, "corpus", "grad-cpu");

/** compare arguments of a gradient case folder (train or eval as its case.json says). */
function gradArgs(
  dir: string,
  mode: "train" | "eval",
  references: string[] = [
    "--ref-grad-input",
    "ref_grad_input.npy",
    "--ref-grad-weight",
    "ref_grad_weight.npy",
    "--ref-grad-bias",
    "ref_grad_bias.npy",
  ],
): string[] {
  const file = (name: string) => join(dir, name);
  const tensors = ["weight", "bias", "running_mean", "running_var"].flatMap((name) => [
    `--${name.replace("_", "-")}`,
    file(`${name}.npy`),
  ]);
  return [
    "compare",
    file("input.npy"),
    file("ref.npy"),
    "--mode",
    mode,
    ...tensors,
    "--grad-output",
    file("grad_output.npy"),
    ...references.map((arg, i) => (i % 2 === 1 ? file(arg) : arg)),
  ];
}

describe("bn-check compare --grad-output (real PyTorch 1.13 CPU autograd)", () => {
  it("conforms on a real train-mode gradient, every gradient listed with its verdict", () => {
    const run = runCli([
      ...gradArgs(join(GRAD_CPU, "pt-cpu-grad-train-normal-16x8x20-float32"), "train"),
      "--format",
      "json",
    ]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.tensors.map((t: { name: string; verdict: string }) => `${t.name}: ${t.verdict}`)).toEqual([
      "output: conforms",
      "grad_input: conforms",
      "grad_weight: conforms",
      "grad_bias: conforms",
    ]);
  });

  it("judges an ill-conditioned real gradient by its arithmetic: conforms within arithmetic, does not conform under --strict", () => {
    const args = [
      ...gradArgs(join(GRAD_CPU, "pt-cpu-grad-train-offset3-8x16x7x7-float32"), "train"),
      "--format",
      "json",
    ];
    const run = runCli(args);
    expect(run.status).toBe(0);
    const gradInput = JSON.parse(run.stdout).tensors.find((t: { name: string }) => t.name === "grad_input");
    expect(gradInput.verdict).toBe("conforms within arithmetic");
    expect(gradInput.bound.maxRatio).toBeLessThan(1);
    expect(runCli([...args, "--strict"]).status).toBe(1);
  });

  it("finds a dx computed with the running statistics in train mode, and says so", () => {
    const run = runCli([
      ...gradArgs(join(GRAD_CPU, "fault-grad-wrong-statistics-train-normal-16x8x20-float32"), "train"),
      "--format",
      "json",
    ]);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.tensors.filter((t: { passed: boolean }) => !t.passed).map((t: { name: string }) => t.name)).toEqual([
      "grad_input",
    ]);
    expect(report.hints).toContain(
      "grad_input treats the running statistics as constants, as eval mode does, " +
        "but the forward used batch statistics: the gradient must flow through " +
        "the batch mean and variance (the frozen/unfrozen BatchNorm confusion)",
    );
  });

  for (const [fault, tensor] of [
    ["fault-grad-dbeta-mean-train-normal-16x8x20-float32", "grad_bias"],
    ["fault-grad-dgamma-unbiased-train-normal-16x8x20-float32", "grad_weight"],
    ["fault-grad-missing-xhat-term-train-normal-16x8x20-float32", "grad_input"],
  ]) {
    it(`${fault}: only ${tensor} fails, beyond its arithmetic (aliases --ref-grad-gamma/--ref-grad-beta)`, () => {
      const references = [
        "--ref-grad-input",
        "ref_grad_input.npy",
        "--ref-grad-gamma",
        "ref_grad_weight.npy",
        "--ref-grad-beta",
        "ref_grad_bias.npy",
      ];
      const run = runCli([...gradArgs(join(GRAD_CPU, fault), "train", references), "--format", "json"]);
      expect(run.status).toBe(1);
      const failing = JSON.parse(run.stdout).tensors.filter((t: { passed: boolean }) => !t.passed);
      expect(failing.map((t: { name: string; verdict: string }) => `${t.name}: ${t.verdict}`)).toEqual([
        `${tensor}: does not conform`,
      ]);
    });
  }

  it("checks gradients without a forward reference; with neither, a usage error", () => {
    const dir = join(GRAD_CPU, "pt-cpu-grad-train-normal-16x8x20-float32");
    const run = runCli([
      "compare",
      join(dir, "input.npy"),
      "--weight",
      join(dir, "weight.npy"),
      "--grad-output",
      join(dir, "grad_output.npy"),
      "--ref-grad-weight",
      join(dir, "ref_grad_weight.npy"),
      "--format",
      "json",
    ]);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).tensors.map((t: { name: string }) => t.name)).toEqual(["grad_weight"]);
    const none = runCli(["compare", join(dir, "input.npy")]);
    expect(none.status).toBe(2);
    expect(none.stderr).toBe(
      `bn-check: ${join(dir, "input.npy")}: nothing to check: give the ` +
        `reference output, or --grad-output with gradient references\n`,
    );
  });

  it("suite manifests take the gradient keys and per-gradient tolerances", () => {
    const dir = join(GRAD_CPU, "pt-cpu-grad-train-normal-16x8x20-float32");
    const entry = {
      input: join(dir, "input.npy"),
      ref: join(dir, "ref.npy"),
      weight: join(dir, "weight.npy"),
      bias: join(dir, "bias.npy"),
      gradOutput: join(dir, "grad_output.npy"),
      refGradInput: join(dir, "ref_grad_input.npy"),
      refGradWeight: join(dir, "ref_grad_weight.npy"),
      refGradBias: join(dir, "ref_grad_bias.npy"),
    };
    const manifest = join(mkdtempSync(join(tmpdir(), "bn-check-grad-manifest-")), "manifest.json");
    // Exact equality for dγ alone: PyTorch's float32 dγ is not bit-equal to the exact one.
    const strictWeight = {
      name: "strict dγ",
      ...entry,
      strict: true,
      tolerances: { grad_weight: { atol: 0, rtol: 0 } },
    };
    writeFileSync(manifest, JSON.stringify({ cases: [{ name: "defaults", ...entry }, strictWeight] }));
    const run = runCli(["suite", manifest, "--format", "json"]);
    const report = JSON.parse(run.stdout);
    expect(report.cases.map((c: { name: string; status: string }) => `${c.name}: ${c.status}`)).toEqual([
      "defaults: pass",
      "strict dγ: fail",
    ]);
    const failing = report.cases[1].tensors
      .filter((t: { passed: boolean }) => !t.passed)
      .map((t: { name: string }) => t.name);
    expect(failing).toEqual(["grad_weight"]);
  });

  it("a gradient reference without --grad-output is a usage error: one line, exit 2", () => {
    const dir = join(GRAD_CPU, "pt-cpu-grad-train-normal-16x8x20-float32");
    const run = runCli([
      "compare",
      join(dir, "input.npy"),
      join(dir, "ref.npy"),
      "--ref-grad-input",
      join(dir, "ref_grad_input.npy"),
    ]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe("bn-check: gradient references need the upstream gradient: give --grad-output\n");
  });
});

describe("bn-check run --grad-output and batchNormGradients", () => {
  const dir = join(GRAD_CPU, "pt-cpu-grad-train-normal-16x8x20-float32");
  const file = (name: string) => join(dir, name);

  it("writes dx, dγ, dβ that agree with PyTorch's, atomically beside y", () => {
    const out = mkdtempSync(join(tmpdir(), "bn-check-grads-"));
    const saved = { dx: join(out, "dx.npy"), dg: join(out, "dg.npy"), db: join(out, "db.npy") };
    const run = runCli([
      "run",
      file("input.npy"),
      "-o",
      join(out, "y.npy"),
      "--weight",
      file("weight.npy"),
      "--bias",
      file("bias.npy"),
      "--grad-output",
      file("grad_output.npy"),
      "--save-grad-input",
      saved.dx,
      "--save-grad-weight",
      saved.dg,
      "--save-grad-bias",
      saved.db,
    ]);
    expect(run.status).toBe(0);
    for (const [path, reference] of [
      [saved.dx, "ref_grad_input.npy"],
      [saved.dg, "ref_grad_weight.npy"],
      [saved.db, "ref_grad_bias.npy"],
    ]) {
      const diff = runCli(["diff", path, file(reference), "--format", "json"]);
      expect([reference, diff.status]).toEqual([reference, 0]);
      expect(JSON.parse(diff.stdout).tensors[0].maxAbsError?.absError ?? 0).toBeLessThan(1e-5);
    }
  });

  it("refuses --save-grad-input without --grad-output, and writes nothing", () => {
    const out = mkdtempSync(join(tmpdir(), "bn-check-grads-"));
    const run = runCli(["run", file("input.npy"), "-o", join(out, "y.npy"), "--save-grad-input", join(out, "dx.npy")]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      "bn-check: --save-grad-input/-weight/-bias need the upstream gradient: give --grad-output\n",
    );
    expect(existsSync(join(out, "y.npy"))).toBe(false);
  });

  it("batchNormGradients gives the same dx at 1 and 4 threads, rounded once to the input's dtype", async () => {
    const tensors = {
      input: readNpy(file("input.npy")),
      weight: readNpy(file("weight.npy")),
      gradOutput: readNpy(file("grad_output.npy")),
    };
    const one = await batchNormGradients(tensors, { threads: 1 });
    const four = await batchNormGradients(tensors, { threads: 4, parallelThreshold: 0 });
    expect(one.gradInput.dtype).toBe("float32");
    expect(
      Buffer.from(four.gradInput.data.buffer, four.gradInput.data.byteOffset, four.gradInput.data.byteLength).equals(
        Buffer.from(one.gradInput.data.buffer, one.gradInput.data.byteOffset, one.gradInput.data.byteLength),
      ),
    ).toBe(true);
    const reference = readNpy(file("ref_grad_input.npy")).data;
    let worst = 0;
    for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(one.gradInput.data[i] - reference[i]));
    expect(worst).toBeLessThan(1e-5);
    expect(worst).toBeGreaterThan(0);
  });
});

describe("hints on gradient faults (every gradient fault fixture)", () => {
  // What the hint must say for each kind of fault the corpus derives from real gradients.
  const EXPECTED: Record<string, RegExp> = {
    backward_statistics:
      /^grad_input (treats the running statistics as constants|flows through the batch mean and variance)/,
    missing_term: /^grad_input lacks the x̂·mean\(dy·x̂\) term/,
    reduction: /^grad_bias is the mean of dy over the \d+ values of each channel, not their sum/,
    scale: /^grad_weight is 1\.01 × bn-check's dγ in every channel$/,
    variance_estimator: /^grad_weight normalises x̂ with the unbiased variance/,
    wrong_eps: /^grad_input conforms with eps 0\.1, but the forward used eps/,
  };
  const dirs = ["grad-cpu", "grad-tfjs"].flatMap((set) =>
    readdirSync(join(FIXTURES, "corpus", set)).map((name) => join(FIXTURES, "corpus", set, name)),
  );
  const faults = dirs.filter((dir) => JSON.parse(readFileSync(join(dir, "case.json"), "utf8")).fault !== undefined);
  it("has fault fixtures of several kinds", () => {
    expect(faults.length).toBeGreaterThanOrEqual(8);
  });
  for (const dir of faults) {
    const { fault } = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
    it(`${dir.slice(FIXTURES.length + 1)}: names the ${fault.kind} fault`, () => {
      const run = runCli([...compareArgs(dir), "--format", "json"]);
      expect(run.status).toBe(1);
      const hints: string[] = JSON.parse(run.stdout).hints;
      expect(
        hints.some((hint) => EXPECTED[fault.kind].test(hint)),
        hints.join(" | "),
      ).toBe(true);
    });
  }
});

describe("bn-check detect with gradient references", () => {
  const detect = (name: string, refs: string[] = ["--ref-grad-input", "ref_grad_input.npy"]) => {
    const dir = join(FIXTURES, "corpus", "grad-cpu", name);
    const file = (f: string) => join(dir, f);
    const tensors = ["weight", "bias", "running_mean", "running_var"].flatMap((t) => [
      `--${t.replace("_", "-")}`,
      file(`${t}.npy`),
    ]);
    const run = runCli([
      "detect",
      file("input.npy"),
      file("ref.npy"),
      ...tensors,
      "--grad-output",
      file("grad_output.npy"),
      ...refs.map((r, i) => (i % 2 === 1 ? file(r) : r)),
      "--format",
      "json",
    ]);
    expect(run.status).toBe(0);
    return JSON.parse(run.stdout);
  };

  it("says a real train-mode dx flows through the batch statistics, and a real eval-mode dx treats the running ones as constants", () => {
    expect(detect("pt-cpu-grad-train-normal-16x8x20-float32").gradients).toMatchObject({
      statistics: "batch",
      tensors: [{ name: "grad_input", verdict: "conforms" }],
      hints: [],
    });
    expect(detect("pt-cpu-grad-eval-normal-16x8x20-float32").gradients).toMatchObject({
      statistics: "running",
      tensors: [{ name: "grad_input", verdict: "conforms" }],
    });
  });

  it("names the frozen/unfrozen confusion: running statistics in the gradient of a training step", () => {
    const report = detect("fault-grad-wrong-statistics-train-normal-16x8x20-float32");
    expect(report.best).toMatchObject({ framework: "torch", mode: "train" });
    expect(report.gradients.statistics).toBe("running");
    expect(report.gradients.description).toBe(
      "your dx treats the running statistics as constants, as eval mode does; the forward used batch statistics",
    );
  });

  it("names a hand-written mistake in dβ", () => {
    const report = detect("fault-grad-dbeta-mean-train-normal-16x8x20-float32", [
      "--ref-grad-bias",
      "ref_grad_bias.npy",
    ]);
    expect(report.gradients.hints).toEqual([
      "grad_bias is the mean of dy over the 320 values of each channel, not their sum: dβ = Σdy",
    ]);
  });
});
