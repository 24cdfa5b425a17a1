// run, diff and matrix through the built binary.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy } from "../../src/io/npy/read-npy.js";
import { writeNpy } from "../../src/io/npy/write-npy.js";
import { FIXTURES, pythonWithNumpy, runCli } from "../helpers.js";

const INPUT = join(FIXTURES, "classic", "input.npy");
const REF = join(FIXTURES, "classic", "ref.npy");

describe("bn-check run", () => {
  const dir = mkdtempSync(join(tmpdir(), "bn-check-run-"));

  it("writes the output and running statistics, which compare and numpy read back", () => {
    const out = join(dir, "out.npy");
    const run = runCli([
      "run",
      INPUT,
      "-o",
      out,
      "--save-running-mean",
      join(dir, "rm.npy"),
      "--save-running-var",
      join(dir, "rv.npy"),
    ]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const written = readNpy(out);
    expect(written.dtype).toBe("float32");
    expect(written.shape).toEqual([4, 3, 2, 2]);
    // The written output is bn-check's float64 result rounded once: the PyTorch reference is within 1 ulp.
    const diff = runCli(["diff", out, REF, "--atol", "0", "--rtol", "2.4e-7", "--format", "json"]);
    expect(JSON.parse(diff.stdout).tensors[0].maxUlp.ulps).toBeLessThanOrEqual(1);
    expect(runCli(["diff", join(dir, "rv.npy"), join(FIXTURES, "classic", "ref_running_var.npy")]).status).toBe(0);
    const python = pythonWithNumpy();
    if (python !== null) {
      const check = spawnSync(
        python,
        [
          "-c",
          "import numpy as np,sys; a=np.load(sys.argv[1]); r=np.load(sys.argv[2]); " +
            "print(a.dtype, a.shape, bool(np.allclose(a, r, rtol=1e-6, atol=1e-6)))",
          out,
          REF,
        ],
        { encoding: "utf8" },
      );
      expect(check.stdout.trim()).toBe("float32 (4, 3, 2, 2) True");
    }
  });

  it("writes another dtype with --dtype", () => {
    const out = join(dir, "out64.npy");
    expect(runCli(["run", INPUT, "-o", out, "--dtype", "float64"]).status).toBe(0);
    expect(readNpy(out).dtype).toBe("float64");
  });

  it("refuses an existing output without --force, and an input even with --force, touching nothing", () => {
    const out = join(dir, "exists.npy");
    writeFileSync(out, "keep me");
    const refused = runCli(["run", INPUT, "-o", out]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/exists\.npy: already exists \(use --force to overwrite it\)/);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    const before = readFileSync(INPUT);
    const input = runCli(["run", INPUT, "-o", INPUT, "--force"]);
    expect(input.status).toBe(2);
    expect(input.stderr).toMatch(/is one of the inputs; bn-check never overwrites an input/);
    expect(readFileSync(INPUT).equals(before)).toBe(true);
    expect(runCli(["run", INPUT, "-o", out, "--force"]).status).toBe(0);
    expect(readNpy(out).shape).toEqual([4, 3, 2, 2]);
  });

  it("runs several steps with --steps, carrying the running statistics", () => {
    const c = join(FIXTURES, "corpus", "cpu", "pt-cpu-bn2d-f32-momNone-steps3");
    const out = join(dir, "steps.npy");
    const rm = join(dir, "steps-rm.npy");
    const args = ["run", join(c, "input.npy"), "-o", out, ...stepsCaseArgs(c), "--save-running-mean", rm];
    expect(runCli(args).status).toBe(0);
    expect(runCli(["diff", out, join(c, "ref.npy")]).status).toBe(0);
    expect(runCli(["diff", rm, join(c, "ref_running_mean.npy")]).status).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});

describe("bn-check diff", () => {
  it("reports two tensors with a per-channel table, and fails a real difference", () => {
    const fault = join(FIXTURES, "corpus", "cpu", "fault-channel-shift");
    const run = runCli([
      "run",
      join(fault, "input.npy"),
      "-o",
      join(mkdtempSync(join(tmpdir(), "bn-")), "y.npy"),
      "--mode",
      "eval",
      "--weight",
      join(fault, "weight.npy"),
      "--bias",
      join(fault, "bias.npy"),
      "--running-mean",
      join(fault, "running_mean.npy"),
      "--running-var",
      join(fault, "running_var.npy"),
      "--format",
      "json",
    ]);
    const written = JSON.parse(run.stdout).written[0].path;
    const diff = runCli(["diff", written, join(fault, "ref.npy"), "--channel-axis", "1"]);
    expect(diff.status).toBe(1);
    expect(diff.stdout).toMatch(/channels {8}1 of 16 fail \(axis 1\):/);
    expect(diff.stdout).toMatch(/DOES NOT CONFORM: tensor \(392 \/ 6272\)/);
  });
});

describe("bn-check matrix", () => {
  it("prints every preset pair with the convention detail that separates them", () => {
    const run = runCli(["matrix", INPUT]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(
      /torch vs keras3 +output max \|diff\| 7\.905e-4 \(5925 ulp\); running var max \|diff\| 0\.3007 — eps: torch 1e-5 vs keras3 0\.001; momentum: torch weights the new batch by 0\.1, keras3 by 0\.01; running var: torch unbiased ÷\(N−1\) vs keras3 biased ÷N/,
    );
    expect(run.stdout).toMatch(
      /torch vs onnx +output max \|diff\| 2\.021e-13 \(0 ulp\); running var max \|diff\| 0\.02694 — running var: torch unbiased ÷\(N−1\) vs onnx biased ÷N/,
    );
    expect(run.stdout).toMatch(
      /tf vs keras3 +output max \|diff\| 0 \(0 ulp\); running var max \|diff\| 0\.002694 — running var: tf unbiased ÷\(N−1\) vs keras3 biased ÷N/,
    );
  });

  it("its values equal those of direct runs compared with diff", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-matrix-"));
    const matrix = JSON.parse(runCli(["matrix", INPUT, "--format", "json"]).stdout);
    for (const framework of ["torch", "keras3"]) {
      expect(
        runCli([
          "run",
          INPUT,
          "-o",
          join(dir, `${framework}.npy`),
          "--framework",
          framework,
          "--channel-axis",
          "1",
          "--dtype",
          "float64",
          "--save-running-var",
          join(dir, `${framework}-rv.npy`),
        ]).status,
      ).toBe(0);
    }
    const diff = JSON.parse(
      runCli(["diff", join(dir, "keras3.npy"), join(dir, "torch.npy"), "--format", "json"]).stdout,
    );
    const pair = matrix.pairs.find((p: { a: string; b: string }) => p.a === "torch" && p.b === "keras3");
    expect(diff.tensors[0].maxAbsError.absError).toBe(pair.outputMaxAbs);
    const running = JSON.parse(
      runCli(["diff", join(dir, "keras3-rv.npy"), join(dir, "torch-rv.npy"), "--format", "json"]).stdout,
    );
    expect(running.tensors[0].maxAbsError.absError).toBeCloseTo(pair.runningVarMaxAbs, 6);
  });

  it("with --ref, names the presets the reference agrees with", () => {
    const run = runCli(["matrix", INPUT, "--ref", REF, "--format", "markdown"]);
    expect(run.stdout).toMatch(
      /\| torch vs ref \| 1\.449e-7 \| 1 \| — \| ref agrees with torch within the default tolerance/,
    );
    expect(run.stdout).toMatch(
      /\| keras3 vs ref \| 7\.905e-4 \| 5926 \| — \| ref differs from keras3: 46 \/ 48 elements outside the default tolerance/,
    );
  });
});

describe("bn-check compare --steps", () => {
  const c = join(FIXTURES, "corpus", "cpu", "pt-cpu-bn2d-f32-momNone-steps3");
  const base = [
    "compare",
    join(c, "input.npy"),
    ...stepsCaseArgs(c),
    "--ref-running-var",
    join(c, "ref_running_var.npy"),
    "--format",
    "json",
  ];

  it("checks every step's output and the final running statistics", () => {
    const run = runCli([base[0], base[1], join(c, "ref.npy"), ...base.slice(2)]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.tensors.map((t: { name: string }) => t.name)).toEqual([
      "output[step 0]",
      "output[step 1]",
      "output[step 2]",
      "running_var",
    ]);
    expect(report.steps).toEqual({ count: 3, firstDivergentStep: null });
  });

  it("names the first step that diverges", () => {
    const reference = readNpy(join(c, "ref.npy"));
    const perStep = reference.data.length / 3;
    reference.data[perStep + 5] += 0.01; // step 1
    reference.data[2 * perStep + 7] += 0.01; // step 2
    const path = join(mkdtempSync(join(tmpdir(), "bn-check-steps-")), "ref.npy");
    writeNpy(path, reference);
    const run = runCli([base[0], base[1], path, ...base.slice(2)]);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.steps).toEqual({ count: 3, firstDivergentStep: 1 });
    expect(report.tensors.filter((t: { passed: boolean }) => !t.passed).map((t: { name: string }) => t.name)).toEqual([
      "output[step 1]",
      "output[step 2]",
    ]);
  });
});

/** The options of the three-step PyTorch case (momentum None: a cumulative average). */
function stepsCaseArgs(caseDir: string): string[] {
  const tensor = (option: string, file: string) => [option, join(caseDir, file)];
  return [
    "--steps",
    "--momentum",
    "none",
    ...tensor("--weight", "weight.npy"),
    ...tensor("--bias", "bias.npy"),
    ...tensor("--running-mean", "running_mean.npy"),
    ...tensor("--running-var", "running_var.npy"),
  ];
}
