// --format html, --report *.html and --report-dir through the built binary: the extension picks the
// format, the commands without charts refuse it, and --report-dir writes report.md with its charts
// all or none, never over an input.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareArgs } from "../../scripts/corpus-args.mjs";
import { FIXTURES, runCli } from "../helpers.js";

const classic = [join(FIXTURES, "classic", "input.npy"), join(FIXTURES, "classic", "ref.npy")];
const CHANSHIFT = join(FIXTURES, "corpus", "illcond", "fault-chanshift-best-train-mixed-8x12x7x7-float32");
const dir = mkdtempSync(join(tmpdir(), "bn-check-html-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("HTML through the CLI", () => {
  it("--report r.html writes HTML while the terminal gets the text report; --format html prints it", () => {
    const report = join(dir, "r.html");
    const run = runCli(["compare", ...classic, "--report", report]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/CONFORMS/);
    const html = readFileSync(report, "utf8");
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("data-verdict>conforms</span>");
    const printed = runCli(["compare", ...classic, "--format", "html"]);
    expect(printed.stdout.startsWith("<!DOCTYPE html>")).toBe(true);
  });

  it("model writes a suite-shaped page: the files, the finding, the layers chart and each layer folded", () => {
    const report = join(dir, "model.html");
    const model = join(FIXTURES, "model");
    const run = runCli([
      "model",
      "--params",
      join(model, "params.pt"),
      "--activations",
      join(model, "eval", "acts.npz"),
      "--report",
      report,
    ]);
    expect(run.status).toBe(1);
    const html = readFileSync(report, "utf8");
    expect(html).toMatch(/<h1>bn-check model: .*failed.* 1 \/ 34 passed<\/h1>/);
    expect(html).toContain("<strong>Finding:</strong> all 33 failing layers conform with --eps 0.001");
    expect(html).toContain("<h2>Layers</h2>");
    expect(html.match(/<details class="case /g)).toHaveLength(34);
    expect(html.match(/<figure><svg /g)?.length).toBeGreaterThanOrEqual(3);
  });

  it("detect and matrix write HTML with their chart; run refuses html and --report-dir before doing anything", () => {
    for (const command of [
      ["detect", ...classic],
      ["matrix", classic[0]],
    ]) {
      const report = join(dir, `${command[0]}.html`);
      const run = runCli([...command, "--report", report]);
      expect(run.status, run.stderr).toBe(0);
      expect(readFileSync(report, "utf8").match(/<figure><svg /g)).toHaveLength(1);
    }
    const output = join(dir, "y.npy");
    const refused = runCli(["run", classic[0], "-o", output, "--report", join(dir, "run.html")]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/html applies to compare, diff, suite, model, matrix, detect, fold, not run/);
    expect(runCli(["run", classic[0], "-o", output, "--report-dir", join(dir, "run-dir")]).stderr).toMatch(
      /--report-dir applies to/,
    );
    expect(existsSync(output) || existsSync(join(dir, "run-dir"))).toBe(false);
  });

  it("--report-dir writes report.md and the charts it links, in a directory it makes", () => {
    const out = join(dir, "charts");
    const run = runCli([...compareArgs(CHANSHIFT), "--report-dir", out]);
    expect(run.status, run.stderr).toBe(1);
    const files = readdirSync(out).sort();
    const svgs = files.filter((f) => f.endsWith(".svg"));
    expect(files).toContain("report.md");
    expect(svgs.length).toBeGreaterThanOrEqual(4);
    const markdown = readFileSync(join(out, "report.md"), "utf8");
    for (const svg of svgs) expect(markdown).toContain(`](${svg})`);
    expect(files.filter((f) => f.startsWith("."))).toEqual([]);
  });

  it("--report-dir never writes over an input, and writes nothing when refused", () => {
    const out = join(dir, "holds-input");
    mkdirSync(out);
    const input = join(out, "report.md");
    writeFileSync(input, readFileSync(classic[0]));
    const run = runCli(["compare", input, classic[1], "--report-dir", out]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/is one of the inputs/);
    expect(readdirSync(out)).toEqual(["report.md"]);
    expect(readFileSync(input).equals(readFileSync(classic[0]))).toBe(true);
  });

  it("--report-dir whose parent is missing, or that is a file: refused before any work, nothing written", () => {
    const missing = runCli(["compare", ...classic, "--report-dir", join(dir, "no", "such")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot be made/);
    expect(existsSync(join(dir, "no"))).toBe(false);
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    expect(runCli(["compare", ...classic, "--report-dir", file]).stderr).toMatch(/is not a directory/);
  });

  it("--report and --report-dir together: both written by one all-or-none write", () => {
    const out = join(dir, "both");
    const report = join(dir, "both.html");
    const run = runCli([
      "suite",
      join(FIXTURES, "corpus", "illcond"),
      "--filter",
      "*chanshift*",
      "-q",
      "--report",
      report,
      "--report-dir",
      out,
    ]);
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(report, "utf8")).toContain("<!DOCTYPE html>");
    expect(readdirSync(out).filter((f) => f.endsWith(".svg")).length).toBeGreaterThanOrEqual(5);
  });
});
