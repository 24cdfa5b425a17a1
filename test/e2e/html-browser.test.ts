// The HTML report in a real browser (Debian's chromium through playwright-core): a failing compare
// and a suite over a corpus set, each opened from file:// with no console error and no request
// beyond the file itself, every chart laid out, the verdict and the tables visible. Screenshots go
// to test-output/. A missing chromium fails this test, saying how to install it: it never skips.
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../scripts/chromium.mjs";
import { compareArgs } from "../../scripts/corpus-args.mjs";
import { FIXTURES, ROOT, runCli } from "../helpers.js";

const OUTPUT = join(ROOT, "test-output");
const CHANSHIFT = join(FIXTURES, "corpus", "illcond", "fault-chanshift-best-train-mixed-8x12x7x7-float32");
const dir = mkdtempSync(join(tmpdir(), "bn-check-html-"));
mkdirSync(OUTPUT, { recursive: true });
// Launched by the first test that needs it, not in a hook: a missing chromium then fails the tests
// themselves, with the launcher's message, rather than leaving them reported as skipped.
let launched: Promise<Browser> | null = null;
const browser = () => {
  launched ??= launchChromium();
  return launched;
};
afterAll(async () => {
  await (await launched?.catch(() => null))?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface PageFindings {
  readonly consoleErrors: string[];
  readonly requests: string[];
  readonly charts: { width: number; height: number; label: string; visible: boolean }[];
  readonly verdict: string;
  readonly visibleTables: number;
}

/** Opens a report from disk in light or dark mode and reads what a reader would see. */
async function inspect(
  path: string,
  screenshot: string,
  colorScheme: "light" | "dark" = "light",
  openCases = false,
): Promise<PageFindings> {
  const page = await (await browser()).newPage({ viewport: { width: 1100, height: 900 }, colorScheme });
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(error.message));
  // Anything but the file is aborted (and counted below): a test run sends nothing anywhere.
  await page.route("**/*", (route) => (route.request().url().startsWith("file:") ? route.continue() : route.abort()));
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith("file:") && !url.startsWith("data:")) requests.push(url);
  });
  // Every request, the page's own included, is counted above; none but the file is expected.
  await page.goto(pathToFileURL(path).href, { waitUntil: "load" });
  // A suite folds its cases: open them, so that their charts are laid out and measured too.
  if (openCases) {
    await page.$$eval("details", (folds) => {
      for (const fold of folds) fold.setAttribute("open", "");
    });
  }
  const charts = await page.$$eval("figure > svg", (svgs) =>
    svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      return {
        width: box.width,
        height: box.height,
        label: svg.querySelector("title")?.textContent ?? "",
        visible: svg.checkVisibility(),
      };
    }),
  );
  const verdict = await page.locator("[data-verdict]").first();
  const findings = {
    consoleErrors,
    requests,
    charts,
    verdict: (await verdict.isVisible()) ? ((await verdict.textContent()) ?? "") : "",
    visibleTables: await page.locator("table:visible").count(),
  };
  // The whole page, except an unfolded suite (tens of charts: the first screen shows enough).
  await page.screenshot({ path: join(OUTPUT, screenshot), fullPage: !openCases });
  await page.close();
  return findings;
}

describe("the HTML report in chromium", () => {
  it("a failing compare (a channel-shift fault): verdict, at least three charts laid out, tables, no error, no request", async () => {
    const report = join(dir, "chanshift.html");
    const run = runCli([...compareArgs(CHANSHIFT), "--report", report]);
    expect(run.status, run.stderr).toBe(1);
    expect(statSync(report).size).toBeGreaterThan(0);
    for (const scheme of ["light", "dark"] as const) {
      const page = await inspect(report, `html-report-compare-${scheme}.png`, scheme);
      expect(page.consoleErrors).toEqual([]);
      expect(page.requests).toEqual([]);
      expect(page.verdict).toBe("does not conform");
      expect(page.charts.length).toBeGreaterThanOrEqual(3);
      for (const chart of page.charts) {
        expect(chart.label).not.toBe("");
        expect(chart.visible, chart.label).toBe(true);
        expect(chart.width, chart.label).toBeGreaterThan(100);
        expect(chart.height, chart.label).toBeGreaterThan(50);
      }
      expect(page.charts.map((c) => c.label)).toEqual(
        expect.arrayContaining(["output: max |error| per channel", "output: max |error| against batch variance"]),
      );
      expect(page.visibleTables).toBeGreaterThanOrEqual(3);
    }
  });

  it("a suite over a corpus set: summary and verdict, the cases chart, folded cases with their charts, no error, no request", async () => {
    const report = join(dir, "illcond.html");
    const run = runCli(["suite", join(FIXTURES, "corpus", "illcond"), "-q", "--report", report]);
    expect(run.status, run.stderr).toBe(0);
    const folded = await inspect(report, "html-report-suite.png");
    expect(folded.consoleErrors).toEqual([]);
    expect(folded.requests).toEqual([]);
    expect(folded.verdict).toBe("passed");
    expect(folded.visibleTables).toBeGreaterThanOrEqual(2);
    // Folded, only the cases chart is visible; the folded cases' charts are not.
    expect(folded.charts.filter((c) => c.visible).map((c) => c.label)).toEqual(["Cases by worst |error| / allowance"]);
    expect(folded.charts[0].width * folded.charts[0].height).toBeGreaterThan(100 * 50);
    const open = await inspect(report, "html-report-suite-open.png", "light", true);
    expect(open.consoleErrors).toEqual([]);
    expect(open.charts.length).toBeGreaterThanOrEqual(3);
    for (const chart of open.charts) {
      expect(chart.visible, chart.label).toBe(true);
      expect(chart.width * chart.height, chart.label).toBeGreaterThan(100 * 50);
    }
  });

  it("a model whose fault layer fails: the finding-free page with the layers chart and the failing layer's charts", async () => {
    const report = join(dir, "model.html");
    const model = join(FIXTURES, "model");
    const run = runCli([
      "model",
      "--params",
      join(model, "params.pt"),
      "--activations",
      join(model, "eval", "acts_fault.safetensors"),
      "--eps",
      "0.001",
      "-q",
      "--report",
      report,
    ]);
    expect(run.status, run.stderr).toBe(1);
    const page = await inspect(report, "html-report-model.png", "light", true);
    expect(page.consoleErrors).toEqual([]);
    expect(page.requests).toEqual([]);
    expect(page.verdict).toBe("failed");
    expect(page.charts.map((c) => c.label)).toContain("Cases by worst |error| / allowance");
    expect(page.charts.length).toBeGreaterThanOrEqual(3);
    for (const chart of page.charts)
      expect(chart.visible && chart.width * chart.height > 100 * 50, chart.label).toBe(true);
  });
});
