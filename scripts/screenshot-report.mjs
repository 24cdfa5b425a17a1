#!/usr/bin/env node
// The README's picture: the HTML report of a failing compare (the channel-shift fault of the
// ill-conditioned corpus set), rendered by the built CLI and photographed in Debian's chromium in
// light mode. Run `npm run build` first; writes docs/html-report.png (or the path given).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { launchChromium } from "./chromium.mjs";
import { compareArgs } from "./corpus-args.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const output = process.argv[2] ?? join(root, "docs", "html-report.png");
const fault = join("fixtures", "corpus", "illcond", "fault-chanshift-best-train-mixed-8x12x7x7-float32");
// Relative paths, so that the picture shows the repository's paths and not this machine's.
process.chdir(root);
const dir = mkdtempSync(join(tmpdir(), "bn-check-screenshot-"));
try {
  const report = join(dir, "report.html");
  const run = spawnSync(
    process.execPath,
    [join(root, "bin", "bn-check.cjs"), ...compareArgs(fault), "--report", report],
    {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    },
  );
  if (run.status !== 1) throw new Error(`expected the fault to fail (exit 1), got ${run.status}: ${run.stderr}`);
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({
      viewport: { width: 1000, height: 1250 },
      colorScheme: "light",
      deviceScaleFactor: 1,
    });
    await page.goto(pathToFileURL(report).href);
    // The top of the page: the verdict, the tensors and the first charts.
    await page.screenshot({ path: output, fullPage: false });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${output}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
