// `bn-check suite` through the built binary: formats parsed back by real parsers, sharding,
// filtering, expected mismatches, errors, and the corpus fixtures agreeing with single compares.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { compareArgs } from "../../scripts/corpus-args.mjs";
import { FIXTURES, runCli } from "../helpers.js";

const MANIFEST = join(FIXTURES, "suite", "manifest.json");
const CORPUS = join(FIXTURES, "corpus");

interface SuiteJson {
  exitCode: number;
  summary: { total: number; passed: number; failed: number; errors: number; expectedMismatches: number };
  cases: {
    name: string;
    status: string;
    conforms: boolean | null;
    error: string | null;
    tensors: { name: string; passed: boolean; verdict: string }[];
  }[];
}

function suiteJson(args: string[]): SuiteJson {
  const run = runCli(["suite", ...args, "--format", "json"]);
  expect(run.stderr).toBe("");
  return JSON.parse(run.stdout) as SuiteJson;
}

describe("bn-check suite on the copied reference corpus", () => {
  const report = suiteJson([CORPUS]);
  it("runs every case folder and every verdict is the expected one", () => {
    expect(report.summary.total).toBeGreaterThanOrEqual(50);
    expect(report.summary.passed).toBe(report.summary.total);
    expect(report.exitCode).toBe(0);
    expect(report.summary.expectedMismatches).toBe(
      report.cases.filter(
        (c) => c.name.includes("fault") || (c.name.includes("largemean-train") && c.name.startsWith("gpu/flax")),
      ).length,
    );
  });

  it("gives the same verdict as a single compare run, case by case", () => {
    for (const c of report.cases.filter((_, i) => i % 4 === 0)) {
      const single = runCli([...compareArgs(join(CORPUS, c.name)), "--format", "json"]);
      expect([c.name, single.status]).toEqual([c.name, c.conforms ? 0 : 1]);
    }
  });

  it("writes valid JUnit XML with --report while the text report goes to the terminal", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-suite-"));
    const path = join(dir, "out.xml");
    const run = runCli(["suite", CORPUS, "--format", "junit", "--report", path]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/passed · 0 failed · 0 could not be checked/);
    const xml = readFileSync(path, "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(xml);
    const suites = parsed.testsuites.testsuite as { "@_name": string; "@_failures": string }[];
    expect(suites.length).toBe(report.summary.total);
    expect(suites.every((s) => s["@_failures"] === "0")).toBe(true);
  });
});

describe("bn-check suite on a manifest", () => {
  it("runs compare, diff, ONNX node-test, corpus-folder and steps cases, and per-tensor tolerances", () => {
    const report = suiteJson([MANIFEST]);
    expect(report.cases.map((c) => c.status)).toEqual(Array(9).fill("pass"));
    expect(report.summary.expectedMismatches).toBe(1);
  });

  it("shards are disjoint and cover the whole suite", () => {
    const all = suiteJson([CORPUS, "--quiet"]).cases.map((c) => c.name);
    const shards = [1, 2, 3].map((k) => suiteJson([CORPUS, "--shard", `${k}/3`]).cases.map((c) => c.name));
    expect(shards.flat().sort()).toEqual([...all].sort());
    expect(new Set(shards.flat()).size).toBe(all.length);
    expect(shards.every((s) => s.length >= Math.floor(all.length / 3))).toBe(true);
  });

  it("--filter selects cases by glob", () => {
    const names = suiteJson([CORPUS, "--filter", "tfjs/fault-*"]).cases.map((c) => c.name);
    expect(names).toEqual(["tfjs/fault-tfjs-k3-wrong-eps", "tfjs/fault-tfjs-tfnn-ulp64"]);
  });

  const dir = mkdtempSync(join(tmpdir(), "bn-check-manifest-"));
  const write = (name: string, manifest: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(manifest));
    return path;
  };
  const classic = { input: join(FIXTURES, "classic", "input.npy"), ref: join(FIXTURES, "classic", "ref.npy") };

  it("a case expected to mismatch that matches fails the suite (exit 1), and reports say so", () => {
    const path = write("wrong-expectation.json", {
      cases: [{ name: "ok <&\"'\u0001> case", ...classic, expected: "mismatch" }],
    });
    const run = runCli(["suite", path, "--format", "junit"]);
    expect(run.status).toBe(1);
    expect(XMLValidator.validate(run.stdout)).toBe(true);
    expect(run.stdout).toContain('name="ok &lt;&amp;&quot;&apos;&gt; case"');
    expect(run.stdout).toContain('<failure message="expected a mismatch, but every tensor is within tolerance"/>');
    const github = runCli(["suite", path, "--format", "github"]);
    expect(github.stdout).toMatch(
      /^::error title=bn-check ok <&"'\\x01> case::expected a mismatch, but every tensor is within tolerance$/m,
    );
  });

  it("a case that cannot be read is an error (exit 2) and the others still run", () => {
    const path = write("bad-file.json", {
      cases: [
        { name: "missing", input: join(dir, "nope.npy"), ref: classic.ref },
        { name: "fine", ...classic },
      ],
    });
    const run = runCli(["suite", path, "--format", "json"]);
    expect(run.status).toBe(2);
    const report = JSON.parse(run.stdout) as SuiteJson;
    expect(report.cases.map((c) => c.status)).toEqual(["error", "pass"]);
    expect(report.cases[0].error).toMatch(/nope\.npy: no such file/);
  });

  it("a tight per-tensor tolerance fails only that tensor under strict; the error model allows its last-ulp rounding", () => {
    const entry = {
      name: "tight running var",
      ...classic,
      refRunningVar: join(FIXTURES, "classic", "ref_running_var.npy"),
      tolerances: { running_var: { atol: 0, rtol: 0 } },
    };
    const strict = suiteJson([write("per-tensor-strict.json", { cases: [{ ...entry, strict: true }] })]);
    expect(strict.cases[0].tensors.map((t) => [t.name, t.passed])).toEqual([
      ["output", true],
      ["running_var", false],
    ]);
    const modelled = suiteJson([write("per-tensor.json", { cases: [entry] })]);
    expect(modelled.cases[0].tensors.map((t) => [t.name, t.passed, t.verdict])).toEqual([
      ["output", true, "conforms"],
      ["running_var", true, "conforms within arithmetic"],
    ]);
  });

  it("a manifest that breaks the schema is refused with the field named", () => {
    const path = write("typo.json", { cases: [{ name: "x", ...classic, atoll: 1 }] });
    const run = runCli(["suite", path]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/does not follow schema\/manifest\.schema\.json: \/cases\/0 unknown field 'atoll'/);
  });

  it("markdown: one table row per case with the same number of cells as the header", () => {
    const run = runCli(["suite", MANIFEST, "--format", "markdown"]);
    const rows = run.stdout.split("\n").filter((line) => line.startsWith("| "));
    const cells = (line: string) => line.split(/(?<!\\)\|/).length;
    expect(rows.length).toBe(2 + 9);
    expect(new Set(rows.map(cells)).size).toBe(1);
    expect(existsSync(MANIFEST)).toBe(true);
  });
});
