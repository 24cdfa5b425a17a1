#!/usr/bin/env node
// How tight the error model is on a reference corpus, at bn-check's default settings: for every
// case, the largest |error| / bound over the elements outside the flat tolerance (every tensor), the
// largest of them among real outputs (must stay <= 1) and the smallest among fault cases (must be > 1,
// unless a fault is found by the flat tolerance where the bound is smaller).
// Usage: node scripts/bound-tightness.mjs <corpus-set-dir> [...]
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "bn-check.cjs");
for (const dir of process.argv.slice(2)) {
  const run = spawnSync(process.execPath, [bin, "suite", dir, "--default-tolerances", "--format", "json", "--quiet"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  const report = JSON.parse(run.stdout);
  const ratioOf = (c) =>
    Math.max(0, ...c.tensors.map((t) => (t.bound && t.flatMismatches > 0 ? Number(t.bound.maxRatio) : 0)));
  const real = report.cases.filter((c) => c.expected === "match");
  const faults = report.cases.filter((c) => c.expected === "mismatch");
  const worstReal = real.reduce((a, c) => (ratioOf(c) > ratioOf(a ?? c) ? c : (a ?? c)), null);
  const modelledFaults = faults.filter((c) => ratioOf(c) > 0);
  const weakestFault = modelledFaults.reduce((a, c) => (ratioOf(c) < ratioOf(a ?? c) ? c : (a ?? c)), null);
  const within = real.filter((c) => c.verdict === "conforms within arithmetic").length;
  console.log(
    `${dir}: ${report.summary.passed} / ${report.summary.total} right; real outputs ${real.length} (${within} ` +
      `conform only within arithmetic), largest error/bound ${worstReal ? ratioOf(worstReal).toFixed(3) : "—"}` +
      `${worstReal && ratioOf(worstReal) > 0 ? ` (${worstReal.name})` : ""}; faults ${faults.length}, smallest ` +
      `error/bound ${weakestFault ? `${ratioOf(weakestFault).toFixed(2)} (${weakestFault.name})` : "—"}`,
  );
}
