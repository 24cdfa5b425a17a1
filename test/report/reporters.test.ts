// Reporters are pure functions of a report: parsed back by real parsers, colour only when asked.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { compareTensors } from "../../src/check/compare.js";
import type { CaseReport, SuiteReport } from "../../src/app/reports.js";
import { renderReport } from "../../src/report/reporters/index.js";
import { escapeXml } from "../../src/report/xml.js";

const failing = compareTensors(
  { shape: [2, 2], data: [1, 2, 3, 4.5] },
  { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]), dtype: "float32" },
  { channelAxis: 1, name: "output" },
);
const passing = compareTensors(
  { shape: [2], data: [1, 2] },
  { shape: [2], data: Float32Array.from([1, 2]), dtype: "float32" },
  { name: "running_var" },
);
const timings = { readMs: 1, statsMs: 1, compareMs: 1, totalMs: 3, threads: 1 };
const caseOf = (
  name: string,
  status: CaseReport["status"],
  expected: CaseReport["expected"] = "match",
): CaseReport => ({
  name,
  kind: "compare",
  expected,
  status,
  conforms: status === "error" ? null : status === "pass",
  verdict: status === "error" ? null : status === "pass" ? "conforms" : "does not conform",
  error: status === "error" ? "x.npy: no such file" : null,
  files: [],
  convention: null,
  tensors: status === "error" ? [] : [failing, passing],
  batchStatistics: null,
  steps: null,
  hints: status === "fail" ? ["the output conforms with --layout NHWC: run `bn-check detect` for more"] : [],
  timings,
});
const suite: SuiteReport = {
  schemaVersion: 2,
  tool: { name: "bn-check", version: "0.0.0" },
  command: "suite",
  conforms: false,
  exitCode: 2,
  source: "m.json",
  shard: null,
  filter: null,
  summary: { total: 3, passed: 0, failed: 1, errors: 1, expectedMismatches: 0, skipped: 0 },
  cases: [
    caseOf('bad <&"\u0001\u001f> name ]]>', "fail"),
    caseOf("missing", "error"),
    caseOf("expected one", "fail", "mismatch"),
  ],
  timings: { totalMs: 9, threads: 1 },
};

describe("reporters", () => {
  it("junit is well-formed, escapes every name and drops characters XML 1.0 forbids", async () => {
    const xml = await renderReport("junit", suite, { color: false });
    expect(XMLValidator.validate(xml)).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(xml);
    expect(parsed.testsuites["@_tests"]).toBe("4");
    expect(parsed.testsuites["@_failures"]).toBe("2");
    expect(parsed.testsuites["@_errors"]).toBe("1");
    expect(parsed.testsuites.testsuite[0]["@_name"]).toBe('bad <&"> name ]]>');
    expect(escapeXml("a\u0000b\uFFFEc")).toBe("abc");
  });

  it("json parses back with non-finite numbers as strings", async () => {
    const parsed = JSON.parse(await renderReport("json", suite, { color: false }));
    expect(parsed.cases[0].tensors[0].mismatches).toBe(1);
    expect(parsed.cases[0].tensors[1].requiredRtol).toBe(0);
  });

  it("text has colour codes only when asked", async () => {
    expect(await renderReport("text", suite, { color: false })).not.toMatch(/\x1b\[/);
    expect(await renderReport("text", suite, { color: true })).toMatch(/\x1b\[/);
  });

  it("github: one ::error per failing tensor or case, a ::notice with the totals", async () => {
    const lines = (await renderReport("github", suite, { color: false })).trim().split("\n");
    expect(lines.filter((l) => l.startsWith("::error")).length).toBe(3);
    expect(lines.at(-1)).toBe("::notice title=bn-check suite::0 of 3 case(s) passed");
  });
});

describe("names with control characters", () => {
  const hostile = caseOf("evil \u001b]0;pwned\u0007\u001b[2J name", "fail");
  const report: SuiteReport = { ...suite, cases: [hostile] };
  for (const format of ["text", "markdown", "github"] as const) {
    it(`${format}: reach the output escaped, never raw`, async () => {
      const output = await renderReport(format, report, { color: false });
      expect(output).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      // Markdown escapes the backslashes and brackets of the escaped text too (it renders as \x1b]0;…).
      expect(output).toContain(
        format === "markdown" ? "\\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J" : "\\x1b]0;pwned\\x07\\x1b[2J",
      );
    });
  }
});

describe("error lines stay short", () => {
  it("cut text a file supplies, and list a few members and how many more", async () => {
    const { InputFileError } = await import("../../src/core/errors.js");
    const { listSome } = await import("../../src/core/format.js");
    const error = new InputFileError("x.npy", `shape (${"9".repeat(5_000_000)},) is wrong`);
    expect(error.message.length).toBeLessThan(400);
    expect(error.message).toMatch(/… \(\d+ more characters\)$/);
    expect(listSome(Array.from({ length: 5000 }, (_, i) => `a${i}`))).toBe(
      "a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, …, and 4,990 more",
    );
  });
});
