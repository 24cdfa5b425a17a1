// The three verdicts through the built binary on real outputs of ill-conditioned data (copied from
// the reference corpus into fixtures/corpus): conforms within float32 arithmetic where the flat
// tolerance alone would cry wolf, faults still found, and why a reference does not conform.
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { compareArgs } from "../../scripts/corpus-args.mjs";
import { FIXTURES, runCli } from "../helpers.js";

const CORPUS = join(FIXTURES, "corpus");
const ILLCOND = join(CORPUS, "illcond");
const at = (name: string) => join(ILLCOND, name);

interface TensorJson {
  name: string;
  passed: boolean;
  verdict: string;
  mismatches: number;
  flatMismatches: number;
  bound: { computeDtype: string; maxRatio: number; dominantTerm: string | null } | null;
  channels: {
    channel: number;
    mismatches: number;
    flatMismatches: number;
    conditioning: number | null;
    boundRatio: number;
  }[];
}

function compareJson(
  dir: string,
  extra: string[] = [],
): { status: number | null; report: { verdict: string; hints: string[]; tensors: TensorJson[] } } {
  const run = runCli([...compareArgs(dir, { caseTolerance: false }), "--format", "json", ...extra]);
  expect(run.stderr).toBe("");
  return { status: run.status, report: JSON.parse(run.stdout) };
}

describe("verdicts at bn-check's default settings", () => {
  it("the copied corpus, every case at default tolerances: real outputs conform, faults are found", () => {
    const run = runCli(["suite", CORPUS, "--default-tolerances", "--format", "json"]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as {
      summary: { total: number; passed: number; expectedMismatches: number };
      cases: { name: string; verdict: string; expected: string }[];
    };
    expect(report.summary.total).toBeGreaterThanOrEqual(70);
    expect(report.summary.passed).toBe(report.summary.total);
    const illcondReal = report.cases.filter((c) => c.name.startsWith("illcond/pt-"));
    expect(illcondReal.length).toBeGreaterThanOrEqual(9);
    // Most of them only within their arithmetic: the flat tolerance alone would reject them.
    expect(illcondReal.filter((c) => c.verdict === "conforms within arithmetic").length).toBeGreaterThanOrEqual(7);
  });

  it("--strict restores the flat-tolerance judgement, which rejects the ill-conditioned real outputs", () => {
    const run = runCli(["suite", ILLCOND, "--default-tolerances", "--strict", "--format", "json"]);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as { cases: { name: string; status: string }[] };
    const failedReal = report.cases.filter((c) => c.name.startsWith("pt-") && c.status === "fail").map((c) => c.name);
    expect(failedReal).toEqual(
      expect.arrayContaining([
        "pt-cpu-train-mixed-8x12x7x7-float32",
        "pt-cpu-train-offset5-8x12x7x7-float32",
        "pt-cpu-eval-nearconst-8x12x7x7-float32",
      ]),
    );
  });

  it("compare: a genuine PyTorch output of data with |mean|/std up to 1e5 conforms within float32 arithmetic (exit 0), channel by channel", () => {
    const { status, report } = compareJson(at("pt-cpu-train-mixed-8x12x7x7-float32"));
    expect(status).toBe(0);
    expect(report.verdict).toBe("conforms within arithmetic");
    const output = report.tensors[0];
    expect(output).toMatchObject({
      name: "output",
      passed: true,
      verdict: "conforms within arithmetic",
      mismatches: 0,
    });
    expect(output.flatMismatches).toBeGreaterThan(1000);
    expect(output.bound?.computeDtype).toBe("float32");
    expect(output.bound?.maxRatio).toBeLessThan(1);
    expect(output.bound?.dominantTerm).toBe("rounding of the batch mean to float32");
    // Channel c has |mean|/std about 1e(c mod 6): the well-conditioned ones stay within the flat tolerance.
    for (const channel of output.channels) {
      expect(channel.conditioning).not.toBeNull();
      if (channel.conditioning! < 50) expect(channel.flatMismatches).toBe(0);
    }
  });

  it("compare: a shift in the best-conditioned channel of mixed data is found, and only there", () => {
    const { status, report } = compareJson(at("fault-chanshift-best-train-mixed-8x12x7x7-float32"));
    expect(status).toBe(1);
    expect(report.verdict).toBe("does not conform");
    const failing = report.tensors[0].channels.filter((c) => c.mismatches > 0).map((c) => c.channel);
    expect(failing).toEqual([0]);
  });

  it("compare: a channel scaled in the worst-conditioned channel and three scattered elements are found", () => {
    const scaled = compareJson(at("fault-chanscale-worst-train-offset5-8x12x7x7-float32"));
    expect(scaled.status).toBe(1);
    expect(scaled.report.tensors[0].channels.filter((c) => c.mismatches > 0).map((c) => c.channel)).toEqual([5]);
    const scattered = compareJson(at("fault-scatter3-train-offset4-8x12x7x7-float32"));
    expect(scattered.status).toBe(1);
    expect(scattered.report.tensors[0].mismatches).toBe(3);
  });

  it("text: the verdict line says conforms within float32 arithmetic and the channel table gives |mean|/std and err/bound", () => {
    const run = runCli(compareArgs(at("pt-cpu-train-offset5-8x12x7x7-float32"), { caseTolerance: false }));
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^output: PASS {2}within float32 arithmetic/m);
    expect(run.stdout).toMatch(/\|mean\|\/std/);
    expect(run.stdout).toMatch(/^CONFORMS WITHIN FLOAT32 ARITHMETIC: /m);
  });

  it("JUnit: a tensor within its arithmetic passes and says so; Markdown marks it", () => {
    const args = compareArgs(at("pt-cpu-train-offset5-8x12x7x7-float32"), { caseTolerance: false });
    const junit = runCli([...args, "--format", "junit"]);
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(junit.stdout);
    expect(parsed.testsuites["@_failures"]).toBe("0");
    expect(junit.stdout).toMatch(
      /<system-out>output: conforms within float32 arithmetic: \d+ \/ 4704 elements outside atol/,
    );
    const markdown = runCli([...args, "--format", "markdown"]);
    expect(markdown.stdout).toMatch(/^### bn-check compare: 🟨 conforms within arithmetic/m);
  });

  it("running statistics of large-mean data: within their update's arithmetic, not the flat tolerance", () => {
    const { report } = compareJson(at("pt-cpu-train-offset5-8x12x7x7-float32"));
    const runningVar = report.tensors.find((t) => t.name === "running_var")!;
    expect(runningVar.passed).toBe(true);
    const strict = compareJson(at("pt-cpu-train-offset5-8x12x7x7-float32"), ["--strict"]);
    expect(strict.report.tensors.find((t) => t.name === "running_var")!.passed).toBe(false);
  });

  it("bfloat16: judged in its compute precision", () => {
    const { status, report } = compareJson(at("pt-cpu-train-mixed-8x12x7x7-bfloat16"));
    expect(status).toBe(0);
    expect(report.tensors[0].bound?.computeDtype).toBe("bfloat16");
  });
});

describe("why a reference does not conform", () => {
  it("a one-pass variance (Flax use_fast_variance) on large-mean data: does not conform, and the hint names the signature", () => {
    const dir = join(CORPUS, "gpu", "flax-bn-nhwc-f32-largemean-train");
    const run = runCli([...compareArgs(dir, { caseTolerance: false }), "--format", "json"]);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report.tensors[0].verdict).toBe("does not conform");
    expect(report.hints.join("\n")).toMatch(/one-pass variance E\[x²\] − E\[x\]²/);
  });

  it("the same framework's two-pass output (use_fast_variance=False) conforms within float32 arithmetic", () => {
    const { status, report } = compareJson(join(CORPUS, "gpu", "flax-bn-nhwc-f32-largemean-slowvar-train"));
    expect(status).toBe(0);
    expect(report.verdict).toBe("conforms within arithmetic");
  });

  it("a reference made with another eps: the hint names the eps under which it conforms", () => {
    const dir = at("fault-wrong-eps-train-tinyvar-8x12x7x7-float32");
    const run = runCli([...compareArgs(dir, { caseTolerance: false }), "--format", "json"]);
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout).hints).toContain(
      "the output conforms with --eps 0.001: run `bn-check detect` for more",
    );
  });

  it("channels-last tensors checked as NCHW: the hint says --layout NHWC", () => {
    // 4x4x3x4: axis 1 and axis 3 both have 4 channels, so only the numbers can tell them apart.
    const dir = join(CORPUS, "tfjs", "tfjs-tfnn-nhwc-f32-train");
    const run = runCli([
      "compare",
      join(dir, "input.npy"),
      join(dir, "ref.npy"),
      "--weight",
      join(dir, "weight.npy"),
      "--bias",
      join(dir, "bias.npy"),
      "--framework",
      "tf-nn",
      "--eps",
      "0.001",
      "--layout",
      "NCHW",
      "--format",
      "json",
    ]);
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout).hints).toContain(
      "the output conforms with --layout NHWC: run `bn-check detect` for more",
    );
  });

  it("a weight whose length is another axis's size: the error names that axis", () => {
    const dir = join(CORPUS, "gpu", "flax-bn-nhwc-f32-largemean-train");
    const run = runCli([
      "compare",
      join(dir, "input.npy"),
      join(dir, "ref.npy"),
      "--weight",
      join(dir, "weight.npy"),
      "--layout",
      "NCHW",
    ]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      "bn-check: weight has shape [16], but the input has 7 channels " +
        "on axis 1: expected [7] (axis 3 has 16: --layout NHWC?)\n",
    );
  });
});

describe("detect judges with the same model", () => {
  it("names torch train eps 1e-5 on an ill-conditioned real output, verdict conforms (within arithmetic)", () => {
    const dir = at("pt-cpu-train-offset5-8x12x7x7-float32");
    const run = runCli([
      "detect",
      join(dir, "input.npy"),
      join(dir, "ref.npy"),
      "--weight",
      join(dir, "weight.npy"),
      "--bias",
      join(dir, "bias.npy"),
      "--running-mean",
      join(dir, "running_mean.npy"),
      "--running-var",
      join(dir, "running_var.npy"),
      "--ref-running-mean",
      join(dir, "ref_running_mean.npy"),
      "--ref-running-var",
      join(dir, "ref_running_var.npy"),
      "--framework",
      "torch",
      "--format",
      "json",
    ]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.best).toMatchObject({ framework: "torch", mode: "train", eps: 1e-5, flaw: null, momentum: 0.1 });
    expect(report.best.verdict).not.toBe("does not conform");
    expect(report.diagnosis).toMatch(
      /^ref matches \(within its float arithmetic\) torch train NCHW eps=1e-5 momentum=0.1; you checked torch eps=1e-5: the same convention$/,
    );
  });

  it("names eps 1e-3 on a reference made with it", () => {
    const dir = at("fault-wrong-eps-train-offset3-8x12x7x7-float64");
    const run = runCli([
      "detect",
      join(dir, "input.npy"),
      join(dir, "ref.npy"),
      "--weight",
      join(dir, "weight.npy"),
      "--bias",
      join(dir, "bias.npy"),
      "--framework",
      "torch",
      "--format",
      "json",
    ]);
    const report = JSON.parse(run.stdout);
    expect(report.best.eps).toBe(0.001);
    expect(report.diagnosis).toMatch(/eps differs/);
  });
});
