// The HTML page as text: self-contained (no script, no URL but the SVG namespace), every name
// escaped, the suite summary before the cases, each case folded, per-case charts capped; and the
// --report-dir files: report.md linking each chart's .svg.
import { describe, expect, it } from "vitest";
import { compareTensors } from "../../src/check/compare.js";
import { CASES_WITH_CHARTS, renderHtmlPage } from "../../src/report/html/page.js";
import { fileSlug, REPORT_DIR_MARKDOWN, reportDirOutputs } from "../../src/report/html/report-dir.js";
import type { CaseReport, SuiteReport } from "../../src/app/reports.js";
import { renderReport } from "../../src/report/reporters/index.js";

const failing = compareTensors(
  { shape: [2, 3], data: [1, 2, 3, 4.5, 5, 6] },
  { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]), dtype: "float32" },
  { channelAxis: 1, name: "output" },
);
const passing = compareTensors(
  { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
  { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]), dtype: "float32" },
  { channelAxis: 1, name: "output" },
);
const timings = { readMs: 1, statsMs: 1, compareMs: 1, totalMs: 3, threads: 1 };
const HOSTILE = 'evil <script>alert("x")</script> & \u001b[2J name';

function caseOf(name: string, status: CaseReport["status"]): CaseReport {
  return {
    name,
    kind: "compare",
    expected: "match",
    status,
    conforms: status === "error" ? null : status === "pass",
    verdict: status === "error" ? null : status === "pass" ? "conforms" : "does not conform",
    error: status === "error" ? `${HOSTILE}.npy: no such file` : null,
    files: [{ role: "reference", path: `${HOSTILE}.npy`, dtype: "float32", shape: [2, 3] }],
    convention: null,
    tensors: status === "error" ? [] : [status === "pass" ? passing : failing],
    batchStatistics: { mean: [0, 0, 0], variance: [1, 2, 3] },
    steps: null,
    hints: status === "fail" ? [`${HOSTILE} hint`] : [],
    timings,
  };
}

function suiteOf(cases: CaseReport[]): SuiteReport {
  const failed = cases.filter((c) => c.status === "fail").length;
  const errors = cases.filter((c) => c.status === "error").length;
  return {
    schemaVersion: 2,
    tool: { name: "bn-check", version: "0.0.0" },
    command: "suite",
    conforms: failed + errors === 0,
    exitCode: errors > 0 ? 2 : failed > 0 ? 1 : 0,
    source: `${HOSTILE}/corpus`,
    shard: null,
    filter: null,
    summary: {
      total: cases.length,
      passed: cases.length - failed - errors,
      failed,
      errors,
      expectedMismatches: 0,
      skipped: 0,
    },
    cases,
    timings: { totalMs: 9, threads: 1 },
  };
}

describe("the HTML page", () => {
  const suite = suiteOf([caseOf(HOSTILE, "fail"), caseOf("fine", "pass"), caseOf("missing", "error")]);

  it("is one self-contained document: no script, no URL but the SVG namespace, a CSP that forbids loading", async () => {
    const html = await renderHtmlPage(suite);
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toMatch(/<script|<img|<link|<iframe|@import|@font-face/i);
    const urls = html.match(/\b(?:https?|ftp|file):\/\/[^\s"')<]*/g) ?? [];
    expect(new Set(urls)).toEqual(new Set(["http://www.w3.org/2000/svg"]));
    expect(html).toContain("default-src 'none'");
    expect(html).toContain("@media (prefers-color-scheme: dark)");
    expect(html).toContain("@media print");
  });

  it("escapes every name a file or folder supplies, control characters included", async () => {
    const html = await renderHtmlPage(suite);
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("evil &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; \\x1b[2J name");
    expect(html).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });

  it("puts the summary and the cases chart before the cases, each case folded in a <details>", async () => {
    const html = await renderHtmlPage(suite);
    const summary = html.indexOf("expected mismatches found");
    const firstCase = html.indexOf('<details class="case');
    expect(summary).toBeGreaterThan(0);
    expect(html.indexOf("Cases by worst |error| / allowance")).toBeLessThan(firstCase);
    expect(summary).toBeLessThan(firstCase);
    expect(html.match(/<details class="case/g)).toHaveLength(3);
    expect(html).not.toMatch(/<details class="case[^>]*open/);
  });

  it("draws per-case charts for at most CASES_WITH_CHARTS cases, failing ones first, and says so", async () => {
    const many = suiteOf([
      ...Array.from({ length: CASES_WITH_CHARTS + 5 }, (_, k) => caseOf(`failing ${k}`, "fail")),
      caseOf("fine", "pass"),
    ]);
    const html = await renderHtmlPage(many);
    const perCase = html.match(/<title id="chart-\d+-title">output: max \|error\| per channel<\/title>/g) ?? [];
    expect(perCase).toHaveLength(CASES_WITH_CHARTS);
    expect(html).toContain(`the ${CASES_WITH_CHARTS} most notable of ${CASES_WITH_CHARTS + 5}`);
    // Every <svg> is a chart in a <figure> with a caption.
    expect(html.match(/<figure><svg /g)?.length).toBe(html.match(/<svg /g)?.length);
    expect(html.match(/<figcaption>/g)?.length).toBe(html.match(/<svg /g)?.length);
  });

  it("is a format of the reporter registry, asynchronous, for the commands with charts only", async () => {
    expect(await renderReport("html", suite, { color: false })).toContain("<!DOCTYPE html>");
    const run = {
      schemaVersion: 2,
      tool: { name: "bn-check", version: "0" },
      command: "run",
      exitCode: 0,
    } as unknown as SuiteReport;
    await expect(renderReport("html", run, { color: false })).rejects.toThrow(
      /--format html applies to compare, diff, suite, model, matrix, detect, fold, not run/,
    );
  });
});

describe("--report-dir files", () => {
  it("report.md links every chart, written as standalone .svg files with names safe for any file system", async () => {
    const suite = suiteOf([caseOf(`a/b ${HOSTILE}`, "fail"), caseOf("fine", "pass")]);
    const outputs = await reportDirOutputs(suite, "/out");
    expect(outputs[0].path).toBe(`/out/${REPORT_DIR_MARKDOWN}`);
    const markdown = Buffer.from(outputs[0].content as Uint8Array).toString("utf8");
    const svgs = outputs.slice(1);
    expect(svgs.length).toBeGreaterThanOrEqual(4);
    for (const svg of svgs) {
      const name = svg.path.slice("/out/".length);
      expect(name).toMatch(/^[A-Za-z0-9._-]+\.svg$/);
      expect(markdown).toContain(`](${name})`);
      expect(Buffer.from(svg.content as Uint8Array).toString("utf8")).toMatch(/^<\?xml[^>]*>\n<svg /);
    }
    expect(new Set(svgs.map((s) => s.path)).size).toBe(svgs.length);
    // The Markdown stays tables: no data: image, no inline SVG.
    expect(markdown).not.toMatch(/data:|<svg/);
    expect(markdown).toContain("| case |");
    expect(fileSlug("../../etc/passwd")).toBe("etc-passwd");
  });
});
