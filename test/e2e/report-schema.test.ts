// Every command's --format json against schema/report.schema.json (the documented key list), and
// formats refused per command before any work.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES, readJson, ROOT, runCli } from "../helpers.js";

const require = createRequire(import.meta.url);
const Ajv = require("ajv") as typeof import("ajv").default;
const validate = new Ajv({ allErrors: true, strict: false }).compile(
  readJson<object>(join(ROOT, "schema", "report.schema.json")),
);
const classic = [join(FIXTURES, "classic", "input.npy"), join(FIXTURES, "classic", "ref.npy")];
const illcond = join(FIXTURES, "corpus", "illcond", "fault-scatter3-train-offset4-8x12x7x7-float32");
const dir = mkdtempSync(join(tmpdir(), "bn-check-schema-"));
const gradCase = (...names: string[]) =>
  names.map((name) =>
    join(FIXTURES, "corpus", "grad-cpu", "fault-grad-wrong-statistics-train-normal-16x8x20-float32", name),
  );
const gradOptions = [
  "--weight",
  "--bias",
  "--running-mean",
  "--running-var",
  "--grad-output",
  "--ref-grad-input",
  "--ref-grad-weight",
  "--ref-grad-bias",
].flatMap((flag) => [
  flag,
  gradCase(
    `${flag.slice(2).replace("ref-grad-", "ref_grad_").replace("grad-output", "grad_output").replace("running-", "running_")}.npy`,
  )[0],
]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const commands: [string, string[]][] = [
  ["compare", ["compare", ...classic, "--ref-running-var", join(FIXTURES, "classic", "ref_running_var.npy")]],
  [
    "compare (does not conform, with hints)",
    ["compare", join(illcond, "input.npy"), join(illcond, "ref.npy"), "--layout", "NHWC"],
  ],
  ["compare --strict", ["compare", ...classic, "--strict"]],
  ["diff", ["diff", classic[1], classic[1], "--channel-axis", "1"]],
  ["suite", ["suite", join(FIXTURES, "suite", "manifest.json")]],
  [
    "model (with a finding)",
    [
      "model",
      "--params",
      join(FIXTURES, "model", "params.safetensors"),
      "--activations",
      join(FIXTURES, "model", "eval", "acts.safetensors"),
    ],
  ],
  ["run", ["run", classic[0], "-o", join(dir, "y.npy")]],
  ["matrix", ["matrix", classic[0], "--ref", classic[1]]],
  ["detect", ["detect", ...classic]],
  ["compare with gradients", ["compare", ...gradCase("input.npy", "ref.npy"), ...gradOptions]],
  ["detect with gradients", ["detect", ...gradCase("input.npy", "ref.npy"), ...gradOptions]],
  [
    "fold (passing)",
    ["fold", "--params", join(FIXTURES, "fold", "small.pt"), "--folded", join(FIXTURES, "fold", "small_folded.onnx")],
  ],
  [
    "fold (failing, not found)",
    [
      "fold",
      "--params",
      join(FIXTURES, "fold", "small.pt"),
      "--folded",
      join(FIXTURES, "fold", "small_fault_missing.pt"),
    ],
  ],
];

describe("the JSON report schema", () => {
  for (const [name, args] of commands) {
    it(`${name}: --format json validates`, () => {
      const run = runCli([...args, "--format", "json"]);
      expect(run.status === 0 || run.status === 1, run.stderr).toBe(true);
      const report = JSON.parse(run.stdout);
      expect(validate(report), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    });
  }

  it("rejects a report with a key it does not document, or without one it requires", () => {
    const report = JSON.parse(runCli(["compare", ...classic, "--format", "json"]).stdout);
    expect(validate({ ...report, extra: 1 })).toBe(false);
    const { verdict: _dropped, ...withoutVerdict } = report;
    expect(validate(withoutVerdict)).toBe(false);
    expect(validate({ ...report, verdict: "maybe" })).toBe(false);
  });
});

describe("formats per command", () => {
  it("run --format junit is refused before anything is written", () => {
    const out = join(dir, "refused.npy");
    const run = runCli(["run", classic[0], "-o", out, "--format", "junit"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      "bn-check: --format junit applies to compare, diff, suite, model, " +
        "fold, not run (its formats: text, json, markdown, github)\n",
    );
    expect(existsSync(out)).toBe(false);
  });

  it("a --report file whose extension asks for JUnit is refused for detect, before any work", () => {
    const run = runCli(["detect", ...classic, "--report", join(dir, "r.xml")]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^bn-check: --report .*r\.xml: junit applies to compare, diff, suite, model, fold, not detect/,
    );
    expect(existsSync(join(dir, "r.xml"))).toBe(false);
  });
});
