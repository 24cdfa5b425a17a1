#!/usr/bin/env node
// Runs `bn-check compare` (the built binary, as a user would) on every case of a
// reference corpus and checks each verdict against case.json's `expected`.
// Usage: node scripts/run-corpus.mjs <corpus-dir> [--default-tolerance] [--json]
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { compareArgs } from "./corpus-args.mjs";

const root = process.argv[2];
const defaultTolerance = process.argv.includes("--default-tolerance");
const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "bn-check.cjs");

function* caseDirs(dir) {
  if (existsSync(join(dir, "case.json"))) {
    yield dir;
    return;
  }
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* caseDirs(path);
  }
}

const rows = [];
for (const dir of caseDirs(root)) {
  const caseJson = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
  const args = compareArgs(dir, { caseTolerance: !defaultTolerance });
  const run = spawnSync(process.execPath, [bin, ...args, "--format", "json"], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  const expectedExit = caseJson.expected === "match" ? 0 : 1;
  let failing = "";
  if (run.status === 0 || run.status === 1) {
    const report = JSON.parse(run.stdout);
    failing = report.tensors
      .filter((t) => !t.passed)
      .map((t) => `${t.name}:${t.shapeMismatch ? "shape" : t.mismatches}`)
      .join(",");
  } else failing = run.stderr.trim();
  rows.push({ case: dir.slice(root.length + 1), expected: caseJson.expected, exit: run.status, ok: run.status === expectedExit, failing });
}
const bad = rows.filter((r) => !r.ok);
for (const r of process.argv.includes("--all") ? rows : bad) console.log(`${r.ok ? "ok  " : "BAD "} ${r.case}  expected ${r.expected}  exit ${r.exit}  ${r.failing}`);
console.log(`${rows.length - bad.length} / ${rows.length} verdicts as case.json says${defaultTolerance ? " (bn-check default tolerances)" : ""}`);
process.exitCode = bad.length === 0 ? 0 : 1;
