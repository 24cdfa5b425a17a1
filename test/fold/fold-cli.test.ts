// `bn-check fold` on real folds (torch's fuse, torch.onnx.export, onnxruntime) and on faults made from
// them (fixtures/fold/generate_fold.py), spawned as a user runs it: every case gives its expected
// outcome, exactly its failing layers and the cause named; real folds pass at default settings.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { FoldReport } from "../../src/app/reports.js";
import { FIXTURES, readJson, runCli } from "../helpers.js";

interface FoldCase {
  readonly params: string;
  readonly folded: string;
  readonly expect: "conforms" | "fails";
  readonly failing?: readonly string[];
  readonly cause?: string;
}

const FOLD = join(FIXTURES, "fold");
const { cases } = readJson<{ cases: FoldCase[] }>(join(FOLD, "cases.json"));
const dir = mkdtempSync(join(tmpdir(), "bn-check-fold-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fold(params: string, folded: string, ...extra: string[]) {
  return runCli(["fold", "--params", join(FOLD, params), "--folded", join(FOLD, folded), ...extra]);
}

describe("bn-check fold on real folds and faults", () => {
  for (const c of cases) {
    it(`${c.params} → ${c.folded}: ${c.expect}${c.failing ? ` (${c.failing.join(", ")}: ${c.cause})` : ""}`, () => {
      const run = fold(c.params, c.folded, "--format", "json");
      expect(run.status, run.stderr).toBe(c.expect === "conforms" ? 0 : 1);
      const report = JSON.parse(run.stdout) as FoldReport;
      expect(report.cases.map((layer) => layer.name).sort()).toEqual(["fc.1", "seq.1", "up.1"]);
      const failing = report.cases.filter((layer) => layer.status === "fail");
      expect(failing.map((layer) => layer.name).sort()).toEqual([...(c.failing ?? [])].sort());
      for (const layer of failing) expect(layer.causeKind).toBe(c.cause);
      for (const layer of report.cases.filter((l) => l.status === "pass")) {
        // A real fold is inside its allowance, and not by a bound so loose it could hide a fault.
        expect(layer.worstRatio).toBeLessThanOrEqual(1);
        expect(layer.weight?.maxAbsError).toBeGreaterThanOrEqual(0);
      }
      expect(report.summary.convsWithoutBatchNorm).toBe(1);
    });
  }

  it("names the eps the fold implies, and the axis and statistics it finds", () => {
    const eps = JSON.parse(fold("small.pt", "small_fault_eps.pt", "--format", "json").stdout) as FoldReport;
    expect(eps.cases.find((l) => l.name === "fc.1")?.cause).toBe("folded with eps 0.001; the layer's is 1e-5");
    const axis = JSON.parse(
      fold("small_unfused.onnx", "small_fault_axis.onnx", "--format", "json").stdout,
    ) as FoldReport;
    expect(axis.cases.find((l) => l.name === "up.1")?.cause).toBe(
      "scaled along dim 0 instead of dim 1, the output-channel axis of ConvTranspose",
    );
    const stale = JSON.parse(fold("small.pt", "small_fault_stale.pt", "--format", "json").stdout) as FoldReport;
    expect(stale.cases.find((l) => l.name === "seq.1")?.cause).toMatch(
      /^folded from other running statistics: var \(or γ\) differs in 6 of 6 channels by up to [0-9.]+%$/,
    );
  });

  it("with the eps the fold was made with, the eps fault conforms: the check is the eps, not a loose bound", () => {
    const run = fold("small.pt", "small_fault_eps.pt", "--layer-options", join(dir, "eps.json"));
    expect(run.status).toBe(2);
    const options = join(dir, "fc-eps.json");
    writeFileSync(options, JSON.stringify({ eps: { "fc.1": 1e-3 } }));
    const fixed = fold("small.pt", "small_fault_eps.pt", "--layer-options", options, "--format", "json");
    expect(fixed.status, fixed.stderr).toBe(0);
  });

  it("pairs anonymous ONNX initializers by the arithmetic or torch's node path, and says so", () => {
    const report = JSON.parse(fold("small.pt", "small_export.onnx", "--format", "json").stdout) as FoldReport;
    const seq = report.cases.find((l) => l.name === "seq.1");
    expect(seq?.folded).toMatch(/^onnx::Conv_/);
    expect(seq?.pairedBy).toMatch(/node name|arithmetic/);
    expect(report.summary.batchNormsLeft).toBe(2);
  });

  it("judges a float16 fold in float16, where the allowance is wider than float32's", () => {
    const half = JSON.parse(fold("small.pt", "small_folded_half.pt", "--format", "json").stdout) as FoldReport;
    const single = JSON.parse(fold("small.pt", "small_folded.pt", "--format", "json").stdout) as FoldReport;
    expect(half.cases.every((l) => l.dtype === "float16")).toBe(true);
    expect(single.cases.every((l) => l.dtype === "float32")).toBe(true);
    expect(half.cases[0].weight?.maxAbsError).toBeGreaterThan(single.cases[0].weight?.maxAbsError ?? 0);
  });

  it("--strict judges by torch.testing's flat tolerance, --layers selects layers", () => {
    const only = JSON.parse(
      fold("small.pt", "small_fault_eps.pt", "--layers", "seq.*", "--format", "json").stdout,
    ) as FoldReport;
    expect(only.cases.map((l) => l.name)).toEqual(["seq.1"]);
    expect(only.exitCode).toBe(0);
    const none = fold("small.pt", "small_folded.pt", "--layers", "nothing.*");
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^bn-check: --layers 'nothing\.\*' matches none of the 3 BatchNorm layers/);
  });

  it("renders every format, with layer names as text", () => {
    const text = fold("small.pt", "small_fault_eps.pt");
    expect(text.status).toBe(1);
    expect(text.stdout).toContain("folded with eps 0.001");
    expect(text.stdout).toContain("2 / 3 folds conform, 1 fail");
    const junit = fold("small.pt", "small_fault_eps.pt", "--format", "junit").stdout;
    expect(junit).toMatch(/<testsuites name="bn-check fold" tests="3" failures="1"/);
    expect(junit).toContain('<testcase name="fc.1" classname="fold"');
    const markdown = fold("small.pt", "small_fault_eps.pt", "--format", "markdown").stdout;
    expect(markdown).toContain("| fc.1 | ❌ fail |");
    const github = fold("small.pt", "small_fault_eps.pt", "--format", "github").stdout;
    expect(github).toContain("::error title=bn-check fold fc.1::folded with eps 0.001; the layer's is 1e-5");
    const html = join(dir, "fold.html");
    const written = fold("small.pt", "small_fault_eps.pt", "--report", html);
    expect(written.status).toBe(1);
    const page = readFileSync(html, "utf8");
    expect(page).toContain("bn-check fold");
    expect(page).toContain("<svg");
    expect(page).toContain("fc.1: |W&#39;/W ÷ γ/√(var + eps) − 1| per channel");
  });

  it("bad input is one line naming the file, exit 2", () => {
    const notModel = runCli(["fold", "--params", join(FOLD, "cases.json"), "--folded", join(FOLD, "small_folded.pt")]);
    expect(notModel.status).toBe(2);
    expect(notModel.stderr.trim().split("\n")).toHaveLength(1);
    expect(notModel.stderr).toContain("cases.json");
    const folded = runCli([
      "fold",
      "--params",
      join(FOLD, "small_folded.onnx"),
      "--folded",
      join(FOLD, "small_folded.pt"),
    ]);
    expect(folded.status).toBe(2);
    expect(folded.stderr).toMatch(/small_folded\.onnx: has no BatchNormalization node/);
  });
});

describe("bn-check fold on Keras weights", () => {
  const { cases: kerasCases } = readJson<{ cases: FoldCase[] }>(join(FOLD, "cases_keras.json"));
  for (const c of kerasCases) {
    it(`${c.params} → ${c.folded}: ${c.expect} (Keras naming, Keras eps 1e-3, channels on the last axis)`, () => {
      const run = fold(c.params, c.folded, "--format", "json");
      expect(run.status, run.stderr).toBe(c.expect === "conforms" ? 0 : 1);
      const report = JSON.parse(run.stdout) as FoldReport;
      expect(report.cases.map((l) => [l.name, l.conv, l.epsilon])).toEqual([
        ["batch_normalization", "conv2d", 0.001],
        ["batch_normalization_1", "dense", 0.001],
      ]);
      expect(report.cases.filter((l) => l.status === "fail").map((l) => l.name)).toEqual(c.failing ?? []);
      for (const layer of report.cases.filter((l) => l.status === "fail"))
        expect(layer.cause).toBe("folded with eps 1e-5; the layer's is 0.001");
    });
  }
});
