// The CLI spawned as a user runs it: `node bin/bn-check.cjs …` with NO_COLOR and a minimal environment.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tensorFromArray } from "../../src/core/tensor.js";
import { writeNpy } from "../../src/io/npy/write-npy.js";
import { BIN, FIXTURES, normals, runCli, readJson, ROOT, seededRandom } from "../helpers.js";

const CLASSIC = ["fixtures/classic/input.npy", "fixtures/classic/ref.npy"];
const FAULT = "fixtures/corpus/cpu/fault-channel-shift";
const faultArgs = [
  `${FAULT}/input.npy`,
  `${FAULT}/ref.npy`,
  "--mode",
  "eval",
  ...["weight", "bias", "running-mean", "running-var"].flatMap((name) => [
    `--${name}`,
    `${FAULT}/${name.replace("-", "_")}.npy`,
  ]),
];
const ANSI = /\x1b\[/;

describe("bn-check compare (exit 0 and 1)", () => {
  it("the README's first example conforms, and prints the whole report", () => {
    const run = runCli(["compare", ...CLASSIC, "--framework", "torch"]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatchInlineSnapshot(`
      "bn-check compare: torch (PyTorch nn.BatchNorm / F.batch_norm)
        input            fixtures/classic/input.npy  float32 4x3x2x2
        reference        fixtures/classic/ref.npy  float32 4x3x2x2
        mode train · layout NCHW (channel axis 1) · eps 1e-5
        momentum 0.1 (weight of the new batch statistic) · running var unbiased (÷(N−1))
        threads 1

      output: PASS  0 / 48 elements outside tolerance (0%)
        tolerance       |bn-check - ref| <= 1e-5 + 1.3e-6 * |ref|  (torch.testing.assert_close default for float32); NaN never matches
        max abs error   1.449e-7 at [2, 2, 0, 0] (bn-check 1.6661029119359094, ref 1.66610277)
        max rel error   1.064e-7 at [2, 2, 0, 1] (bn-check -0.2753002936600998, ref -0.275300264)
        max ulp         1 (float32) at [0, 0, 1, 0]
        mean abs error  3.045e-8
        would pass with atol >= 0 (at rtol 1.3e-6), or rtol >= 0 (at atol 1e-5)
        ulp histogram   (float32 ulps: elements)
                     0          26      54.2%  ########################
                     1          22      45.8%  ####################
        channels        all 3 within tolerance (axis 1)

      CONFORMS: the reference agrees with torch BatchNorm (train) within tolerance
      "
    `);
  });

  it("a reference with one shifted channel does not conform, and the channel table names it", () => {
    const run = runCli(["compare", ...faultArgs]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/output: FAIL {2}392 \/ 6272 elements outside tolerance \(6\.25%\)/);
    expect(run.stdout).toMatch(/channels {8}1 of 16 fail \(axis 1\):/);
    expect(run.stdout).toMatch(/│ 14 +│ 392 \/ 392 +│/);
    expect(run.stdout).toMatch(/DOES NOT CONFORM to torch BatchNorm \(eval\): output \(392 \/ 6272\)/);
    expect(run.stdout).not.toMatch(ANSI);
  });

  it("a reference of another shape does not conform (exit 1) and says so", () => {
    const dir = "fixtures/corpus/cpu/fault-nhwc-declared-nchw-shape";
    const run = runCli([
      "compare",
      `${dir}/input.npy`,
      `${dir}/ref.npy`,
      "--mode",
      "eval",
      "--running-mean",
      `${dir}/running_mean.npy`,
      "--running-var",
      `${dir}/running_var.npy`,
    ]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/shape mismatch: bn-check computes 2x3x4x5, the reference is 2x4x5x3/);
  });

  it("--format json prints one document with the documented keys", () => {
    const run = runCli([
      "compare",
      ...CLASSIC,
      "--format",
      "json",
      "--ref-running-mean",
      "fixtures/classic/ref_running_mean.npy",
      "--ref-running-var",
      "fixtures/classic/ref_running_var.npy",
    ]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(Object.keys(report)).toEqual([
      "schemaVersion",
      "tool",
      "command",
      "conforms",
      "verdict",
      "exitCode",
      "files",
      "convention",
      "tensors",
      "batchStatistics",
      "steps",
      "hints",
      "timings",
    ]);
    expect(report.schemaVersion).toBe(2);
    expect(report.verdict).toBe("conforms");
    expect(report.tool.version).toBe(readJson<{ version: string }>(join(ROOT, "package.json")).version);
    expect(report.convention).toMatchObject({
      framework: "torch",
      mode: "train",
      layout: "NCHW",
      channelAxis: 1,
      epsilon: 1e-5,
      momentum: 0.1,
      runningVarEstimator: "unbiased",
    });
    expect(report.tensors.map((t: { name: string }) => t.name)).toEqual(["output", "running_mean", "running_var"]);
    expect(Object.keys(report.tensors[0])).toEqual(
      expect.arrayContaining([
        "passed",
        "mismatches",
        "count",
        "mismatchFraction",
        "maxAbsError",
        "maxRelError",
        "maxUlp",
        "requiredAtol",
        "requiredRtol",
        "channels",
        "worst",
        "tolerance",
      ]),
    );
    expect(report.tensors[0].tolerance).toEqual({
      atol: 1e-5,
      rtol: 1.3e-6,
      source: "torch.testing.assert_close default for float32",
      equalNan: false,
    });
    expect(Object.keys(report.timings)).toEqual([
      "readMs",
      "statsMs",
      "compareMs",
      "totalMs",
      "threads",
      "kernels",
      "unitsByThread",
    ]);
    expect(report.timings.unitsByThread).toEqual({ stats: [1], compare: [1] });
    // The classic 4x3x2x2 fixture is too small for a tensor arena: the JavaScript kernel.
    expect(report.timings.kernels).toEqual({ stats: "js", compare: "js" });
  });

  it("the same fixture checked as keras (eps 1e-3) does not conform", () => {
    const run = runCli(["compare", ...CLASSIC, "--framework", "keras", "--channel-axis", "1"]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/eps 0\.001/);
  });

  it("colours only when asked: FORCE_COLOR turns colour on, NO_COLOR and --no-color turn it off", () => {
    expect(runCli(["compare", ...CLASSIC], { NO_COLOR: "" }).stdout).not.toMatch(ANSI); // not a terminal
    expect(runCli(["compare", ...CLASSIC], { NO_COLOR: "", FORCE_COLOR: "1" }).stdout).toMatch(ANSI);
    expect(runCli(["compare", ...CLASSIC], { NO_COLOR: "1", FORCE_COLOR: "1" }).stdout).not.toMatch(ANSI);
    const flagged = runCli(["compare", ...CLASSIC, "--no-color"], { NO_COLOR: "", FORCE_COLOR: "1" });
    expect(flagged.status).toBe(0);
    expect(flagged.stdout).not.toMatch(ANSI);
  });
});

describe("bn-check compare (exit 2: could not check)", () => {
  const dir = mkdtempSync(join(tmpdir(), "bn-check-e2e-"));
  const cases: [string, string[], RegExp][] = [
    [
      "a missing file",
      ["compare", "fixtures/classic/nope.npy", CLASSIC[1]],
      /^bn-check: fixtures\/classic\/nope\.npy: no such file\n$/,
    ],
    [
      "an integer tensor",
      ["compare", "fixtures/npy/i32.npy", CLASSIC[1]],
      /^bn-check: fixtures\/npy\/i32\.npy: integer dtype '<i4' is not supported/,
    ],
    [
      "a non-positive eps",
      ["compare", ...CLASSIC, "--eps", "-1"],
      /option '--eps <x>' argument '-1' is invalid\. eps must be a finite number > 0; got '-1'/,
    ],
    [
      "an unknown framework",
      ["compare", ...CLASSIC, "--framework", "caffe"],
      /argument 'caffe' is invalid\. Allowed choices are torch, tf, keras, keras3, tf-nn, onnx, flax/,
    ],
    ["threads < 1", ["compare", ...CLASSIC, "--threads", "0"], /threads must be an integer >= 1; got '0'/],
    [
      "eval mode without running statistics",
      ["compare", ...CLASSIC, "--mode", "eval"],
      /^bn-check: eval mode normalises with the running statistics: give --running-mean and --running-var/,
    ],
    [
      "a weight of the wrong length",
      ["compare", ...CLASSIC, "--weight", "fixtures/corpus/cpu/fault-channel-shift/weight.npy"],
      /^bn-check: weight has shape \[16\], but the input has 3 channels on axis 1: expected \[3\]/,
    ],
    [
      "a channel axis out of range",
      ["compare", ...CLASSIC, "--channel-axis", "4"],
      /^bn-check: channel axis 4 is out of range for a rank-4 input \(valid: -4\.\.3\)/,
    ],
    [
      "a layout of the wrong rank",
      ["compare", ...CLASSIC, "--layout", "NC"],
      /^bn-check: layout NC expects a rank-2 input/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: one line on stderr, no stack trace`, () => {
      const run = runCli(args);
      expect(run.status).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("one value per channel in training: PyTorch's own message", () => {
    const path = join(dir, "one.npy");
    writeFileSync(
      path,
      Buffer.concat([
        Buffer.from("\x93NUMPY\x01\x00\x76\x00", "latin1"),
        Buffer.from(`${`{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }`.padEnd(117)}\n`, "latin1"),
        Buffer.alloc(12),
      ]),
    );
    const run = runCli(["compare", path, path]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /Expected more than 1 value per channel when training, got input size torch\.Size\(\[1, 3\]\)/,
    );
  });

  it("--debug adds the stack trace", () => {
    const run = runCli(["compare", "fixtures/classic/nope.npy", CLASSIC[1], "--debug"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/\n\s+at /);
  });

  it("a worker that dies mid-kernel fails its case with a message (exit 2), the pool is replaced, no hang", () => {
    // A suite of pooled passes long enough for a woken worker to join them; the fixture worker
    // (fixtures/workers/exit.cjs, run through the production pool) exits in each pass it joins, the
    // reading of a case's files included.
    const dir = mkdtempSync(join(tmpdir(), "bn-check-exit-"));
    const input = join(dir, "input.npy");
    writeNpy(input, tensorFromArray(normals(seededRandom(5), 16 * 4 * 128 * 128), [16, 4, 128, 128], "float32"));
    const manifest = join(dir, "suite.json");
    writeFileSync(
      manifest,
      JSON.stringify({
        cases: Array.from({ length: 40 }, (_, i) => ({ name: `case ${i}`, input, ref: input, expected: "mismatch" })),
      }),
    );
    const run = runCli(["suite", manifest, "--threads", "2", "--parallel-threshold", "0", "--format", "json"], {
      BN_CHECK_WORKER_FILE: join(FIXTURES, "workers", "exit.cjs"),
    });
    expect(run.status).toBe(2);
    const report = JSON.parse(run.stdout) as { cases: { status: string; error: string | null }[] };
    const errors = report.cases.filter((c) => c.status === "error");
    expect(errors.length).toBeGreaterThan(0);
    for (const c of errors)
      expect(c.error).toMatch(
        /^a worker thread failed during ((stats|compare) \(units 0\.\.63 of 64, 4 channels\)|reading 2 file ranges \(8 units\)): worker exited with code: 70$/,
      );
    expect(report.cases.filter((c) => c.status === "pass").length).toBe(40 - errors.length);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("help and version", () => {
  it("--version prints the package version", () => {
    const run = runCli(["--version"]);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(readJson<{ version: string }>(join(ROOT, "package.json")).version);
  });

  it("compare --help describes every option", () => {
    const run = runCli(["compare", "--help"]);
    expect(run.status).toBe(0);
    for (const option of [
      "--framework",
      "--mode",
      "--layout",
      "--channel-axis",
      "--eps",
      "--momentum",
      "--num-batches-tracked",
      "--weight",
      "--bias",
      "--running-mean",
      "--running-var",
      "--ref-running-mean",
      "--ref-running-var",
      "--atol",
      "--rtol",
      "--equal-nan",
      "--compute-dtype",
      "--threads",
      "--format",
      "--no-color",
    ]) {
      expect(run.stdout).toContain(option);
    }
  });

  it("--help lists the compare command and the exit codes", () => {
    const run = runCli(["--help"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/compare \[options\] <input> \[ref\]/);
    expect(run.stdout).toMatch(/Exit codes: 0 conforms, 1 checked and does not conform, 2 could not check/);
  });

  it("a reader that closes the pipe (| head, | true) ends nothing in a crash: no stack trace, the check's exit code", () => {
    // `true` exits without reading: every write of bn-check's lands on a closed pipe.
    const classic = [join(FIXTURES, "classic", "input.npy"), join(FIXTURES, "classic", "ref.npy")]
      .map((path) => `"${path}"`)
      .join(" ");
    const run = spawnSync(
      "bash",
      ["-c", `"${process.execPath}" "${BIN}" compare ${classic} | true; exit \${PIPESTATUS[0]}`],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });

  it("a report of megabytes on a non-blocking pipe it shares with its parent arrives whole", () => {
    // A Node parent whose stdout is a pipe (libuv makes it non-blocking) runs bn-check with inherited
    // stdio, as CI tools written in Node do: bn-check's direct writes are partial, or meet EAGAIN when
    // the pipe is full and hand the rest to process.stdout (which one depends on how fast this test
    // reads; test/cli/stdout.test.ts forces each). Either way nothing may be lost.
    const parent = `process.stdout.write("");
const run = require("node:child_process").spawnSync(process.execPath, ${JSON.stringify([BIN, "suite", join(FIXTURES, "corpus"), "--format", "json", "--quiet"])}, { stdio: "inherit" });
process.exitCode = run.status;`;
    const run = spawnSync(process.execPath, ["-e", parent], { encoding: "utf8", maxBuffer: 1 << 28, timeout: 120_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(1 << 20);
    const report = JSON.parse(run.stdout) as { cases: unknown[]; command: string };
    expect(report.command).toBe("suite");
    expect(report.cases.length).toBeGreaterThan(50);
  });
});
