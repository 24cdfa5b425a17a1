// `bn-check detect` through the built binary, scored on the copied corpus fixtures as the issue asks.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scoreCase } from "../../scripts/detect-corpus.mjs";
import { FIXTURES, runCli } from "../helpers.js";

const CORPUS = join(FIXTURES, "corpus");
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

describe("bn-check detect on the corpus fixtures", () => {
  const dirs = readdirSync(CORPUS).flatMap((set) =>
    readdirSync(join(CORPUS, set)).map((name) => join(CORPUS, set, name)),
  );
  for (const dir of dirs) {
    const caseJson = readJson(join(dir, "case.json"));
    if ((caseJson.steps ?? 1) > 1 || (caseJson.expected !== "match" && !caseJson.fault)) continue;
    // detect reads forward outputs; a gradient fault leaves the forward output right.
    if (caseJson.backward && caseJson.fault) continue;
    const kinds = ["wrong_eps", "nhwc_declared_nchw", "nhwc_declared_nchw_shape", "running_var_biased"];
    if (caseJson.fault && !kinds.includes(caseJson.fault.kind)) continue;
    it(`${dir.slice(CORPUS.length + 1)}: ${caseJson.fault ? `names the ${caseJson.fault.kind} fault` : "finds the case's convention"}`, () => {
      const result = scoreCase(dir, readJson);
      expect(result.why).toBeDefined();
      expect(result.hit, result.why).toBe(true);
    });
  }
});

describe("bn-check detect output", () => {
  const classic = [join(FIXTURES, "classic", "input.npy"), join(FIXTURES, "classic", "ref.npy")];

  it("--format json: best, equivalent and candidates; torch and onnx agree on a train output without running statistics", () => {
    const run = runCli(["detect", ...classic, "--format", "json"]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.best).toMatchObject({
      framework: "torch",
      mode: "train",
      channelAxis: 1,
      eps: 1e-5,
      verdict: "conforms",
    });
    for (const key of ["maxAbsError", "maxUlp"]) expect(typeof report.best[key]).toBe("number");
    const equivalent = report.equivalent.map((c: { framework: string; eps: number }) => `${c.framework} ${c.eps}`);
    expect(equivalent).toEqual(
      expect.arrayContaining(["torch 0.00001", "onnx 0.00001", "flax 0.00001", "tf 0.00001001"]),
    );
    expect(report.candidates.length).toBeGreaterThan(report.equivalent.length);
  });

  it("says in one sentence what separates the reference from the convention you named", () => {
    const run = runCli(["detect", ...classic, "--framework", "keras3", "--channel-axis", "1"]);
    expect(run.stdout.trim().split("\n").at(-1)).toBe(
      "ref matches keras3 train NCHW eps=1e-5; you checked keras3 axis 1 eps=0.001: eps differs",
    );
    expect(existsSync(classic[0])).toBe(true);
  });
});
