#!/usr/bin/env node
// Runs `bn-check detect` on every case of a reference corpus and scores it as issue "detect" asks:
// on "match" cases the case's framework, mode, layout and eps must be the best candidate or among the
// equivalent ones; on fault cases of kind wrong_eps, nhwc_declared_nchw(_shape) and running_var_biased
// the diagnosis must name the fault. Usage: node scripts/detect-corpus.mjs <corpus-dir> [--verbose]
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { caseFromCorpusFolder } from "../dist/app/cases/corpus-case.js";
import { loadSuite } from "../dist/app/cases/manifest.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "bn-check.cjs");
const FAULT_WORDS = {
  wrong_eps: /eps differs/,
  nhwc_declared_nchw: /layout differs/,
  nhwc_declared_nchw_shape: /layout differs/,
  running_var_biased: /running variance is biased/,
};

export function scoreCase(dir, readJson) {
  const caseJson = readJson(join(dir, "case.json"));
  const check = caseFromCorpusFolder(dir);
  if (check.steps) return { skipped: "steps" };
  const f = check.files;
  const args = ["detect", f.input, f.reference, "--format", "json", "--framework", check.framework];
  if (check.mode) args.push("--mode", check.mode);
  if (check.channelAxis !== undefined) args.push("--channel-axis", String(check.channelAxis));
  if (check.eps !== undefined) args.push("--eps", String(check.eps));
  if (typeof check.momentum === "number") args.push("--momentum", String(check.momentum));
  if (check.computeDtype) args.push("--compute-dtype", check.computeDtype);
  for (const [key, flag] of [
    ["weight", "--weight"],
    ["bias", "--bias"],
    ["runningMean", "--running-mean"],
    ["runningVar", "--running-var"],
    ["refRunningMean", "--ref-running-mean"],
    ["refRunningVar", "--ref-running-var"],
  ])
    if (f[key]) args.push(flag, f[key]);
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  if (run.status !== 0) return { hit: false, why: run.stderr.trim() };
  const report = JSON.parse(run.stdout);
  if (caseJson.fault) {
    const words = FAULT_WORDS[caseJson.fault.kind];
    if (!words) return { skipped: `fault ${caseJson.fault.kind}` };
    return { hit: words.test(report.diagnosis), why: report.diagnosis, fault: true };
  }
  if (caseJson.expected !== "match") return { skipped: "numerics" };
  const fits = (c) =>
    c.framework === (check.framework === "keras" ? "tf" : check.framework) &&
    c.mode === (check.mode ?? "train") &&
    c.channelAxis === (check.channelAxis < 0 ? check.channelAxis + caseJson.shape.length : check.channelAxis) &&
    Math.abs(c.eps - check.eps) <= 0.01 * check.eps &&
    c.flaw === null &&
    c.referenceOrder === null;
  const hit = fits(report.best) || report.equivalent.some(fits);
  return { hit, why: `best: ${report.best.description}; ${report.equivalent.length} equivalent` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { readFileSync } = await import("node:fs");
  const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));
  const root = process.argv[2];
  const cases = loadSuite(root);
  const tally = { match: [0, 0], fault: [0, 0], skipped: 0 };
  for (const c of cases) {
    const result = scoreCase(join(root, c.name), readJson);
    if (result.skipped) {
      tally.skipped++;
      continue;
    }
    const bucket = result.fault ? tally.fault : tally.match;
    bucket[1]++;
    if (result.hit) bucket[0]++;
    if (!result.hit || process.argv.includes("--verbose"))
      console.log(`${result.hit ? "ok  " : "MISS"} ${c.name}: ${result.why}`);
  }
  console.log(
    `match cases: ${tally.match[0]} / ${tally.match[1]} hit; fault cases named: ${tally.fault[0]} ` +
      `/ ${tally.fault[1]}; skipped ${tally.skipped} (steps, numerics, other fault kinds)`,
  );
}
