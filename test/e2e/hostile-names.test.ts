// Case and layer names are text in every report: a suite whose case names carry HTML, Markdown,
// table pipes, line breaks, backticks and CSS that loads a url, run through the real CLI in every
// format. Nothing in a name may become markup, and no name may cost the user the report.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { externalReference } from "../../src/report/html/svg.js";
import { FIXTURES, runCli } from "../helpers.js";

const HOSTILE = [
  "<img src=https://example.invalid/x.png>",
  "line one\n# a heading",
  '<a href="https://example.invalid">click</a>',
  "pipe | breaks | the table",
  "tick ` escapes ``a code span``",
  "style url(http://example.invalid/a.png) and @import " +
    "'http://example.invalid/b.css' and href=\"http://example.invalid\"",
];

const dir = mkdtempSync(join(tmpdir(), "bn-check-names-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const manifest = join(dir, "manifest.json");
const classic = (name: string) => join(FIXTURES, "classic", name);
writeFileSync(
  manifest,
  JSON.stringify({
    cases: HOSTILE.map((name, k) =>
      k % 2 === 0
        ? { name, input: classic("input.npy"), ref: classic("ref.npy") }
        : { name, input: classic("input.npy"), ref: classic("ref.npy"), framework: "keras3", channelAxis: 1 },
    ),
  }),
);

describe("hostile case names in every report", () => {
  it("markdown: no HTML tag, no heading, no broken table row, no open code span", () => {
    const run = runCli(["suite", manifest, "--format", "markdown"]);
    expect(run.status).toBe(1);
    expect(run.stdout).not.toMatch(/<img|<a href/);
    expect(run.stdout).toContain("&lt;img src=https://example.invalid/x.png&gt;");
    expect(run.stdout.split("\n").some((line) => line.startsWith("# a heading"))).toBe(false);
    expect(run.stdout).toContain("pipe \\| breaks \\| the table");
    expect(run.stdout).toContain("tick \\` escapes \\`\\`a code span\\`\\`");
    // Every table row has as many unescaped pipes as the header.
    const rows = run.stdout.split("\n").filter((line) => line.startsWith("| "));
    const pipes = (line: string) => line.replace(/\\\|/g, "").split("|").length;
    expect(new Set(rows.slice(0, 2 + HOSTILE.length).map(pipes)).size).toBe(1);
  });

  it("html: the report is written (a name is text, not markup) and holds no external reference", () => {
    const report = join(dir, "report.html");
    const run = runCli(["suite", manifest, "--report", report]);
    expect(run.status, run.stderr).toBe(1);
    const page = readFileSync(report, "utf8");
    // No element that loads or links (names appear only as escaped text), and no markup that refers outside.
    expect(page).not.toMatch(/<img\b|<a\s/);
    expect(externalReference(page)).toBeNull();
    expect(page).toContain("&lt;img src=https://example.invalid/x.png&gt;");
  });

  it("junit, github and text keep names as text", () => {
    const junit = runCli(["suite", manifest, "--format", "junit"]).stdout;
    expect(junit).not.toContain("<img");
    expect(junit).toContain("&lt;img src=https://example.invalid/x.png&gt;");
    const github = runCli(["suite", manifest, "--format", "github"]).stdout;
    for (const line of github.trim().split("\n")) expect(line).toMatch(/^::(error|notice) /);
    expect(github).toContain("line one%0A# a heading");
    const text = runCli(["suite", manifest]).stdout;
    expect(text).toContain("line one\\x0a# a heading");
    expect(text.split("\n").some((line) => line.startsWith("# a heading"))).toBe(false);
  });
});
