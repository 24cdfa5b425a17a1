#!/usr/bin/env node
// Where a one-shot run gains from the worker pool (src/parallel/executor.ts COLD_PARALLEL_THRESHOLD):
// whole-process `bn-check compare --format json` on N x 64 x 32 x 32 float32 inputs of 2^18 to 2^25
// elements and S1 = 32x64x56x56 (train mode, a float32 reference computed as a framework would), each size run
// alternately in one thread (`--threads 1`) and on a cold pool (`--threads 2` with
// BN_CHECK_COLD_THRESHOLD=0, so the pool is used at every size). Prints median (min–max) wall ms of
// each, their ratio, and the threads the pooled run used (timings.threads, units per thread).
// `npm run bench` runs it (BENCH_ONLY=cold-threshold alone); alone: `node bench/cold-threshold.mjs`.
// Environment: BENCH_REPEATS (default 7), BENCH_COLD_POWERS=18,22.5,... (default 18..25; the batch
// dimension is 2^power / 65536 rounded).
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "bn-check.cjs");

const stats = (runs) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};
const fmt = (s) => `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;

/** Input and float32 reference of `shape` (channels on axis 1), written as .npy files. */
function writeCase(lib, shape, dir) {
  const count = shape.reduce((a, b) => a * b, 1);
  const channels = shape[1];
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const input = new Float32Array(count);
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    input[i] = (state / 2 ** 32) * 4 - 1.5;
  }
  const sums = new Float64Array(channels);
  const squares = new Float64Array(channels);
  for (let i = 0; i < count; i++) sums[Math.floor(i / inner) % channels] += input[i];
  const n = count / channels;
  const means = sums.map((s) => s / n);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(i / inner) % channels;
    squares[c] += (input[i] - means[c]) ** 2;
  }
  const reference = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(i / inner) % channels;
    reference[i] = (input[i] - means[c]) / Math.sqrt(squares[c] / n + 1e-5);
  }
  const x = join(dir, `x-${count}.npy`);
  const ref = join(dir, `ref-${count}.npy`);
  lib.writeNpy(x, { dtype: "float32", shape, data: input });
  lib.writeNpy(ref, { dtype: "float32", shape, data: reference });
  return { x, ref };
}

function runOnce(files, threads, env) {
  const started = performance.now();
  const run = spawnSync(
    process.execPath,
    [bin, "compare", files.x, files.ref, "--format", "json", "--threads", String(threads)],
    { encoding: "utf8", env, maxBuffer: 1 << 26 },
  );
  const ms = performance.now() - started;
  const report = JSON.parse(run.stdout);
  return { ms, timings: report.timings, verdict: report.verdict };
}

export async function timeColdThreshold(
  distDir,
  { powers = [18, 19, 20, 21, 22, 23, 24, 25], withS1 = true, repeats = 7 } = {},
) {
  const lib = await import(pathToFileURL(join(distDir, "index.js")).href);
  const work = join(tmpdir(), `bn-check-cold-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const rows = [];
  const { BN_CHECK_COLD_THRESHOLD: _unset, ...baseEnv } = process.env;
  try {
    const cases = [
      ...powers.map((power) => [`2^${power}`, [Math.round(2 ** power / (64 * 32 * 32)), 64, 32, 32]]),
      ...(withS1 ? [["S1 (2^22.6)", [32, 64, 56, 56]]] : []),
    ];
    for (const [label, shape] of cases) {
      if (!Number.isInteger(shape[0]) || shape[0] < 1) continue;
      const files = writeCase(lib, shape, work);
      const one = [];
      const pool = [];
      let pooled = null;
      runOnce(files, 1, baseEnv); // page cache
      for (let r = 0; r < repeats; r++) {
        one.push(runOnce(files, 1, baseEnv).ms);
        const run = runOnce(files, 2, { ...baseEnv, BN_CHECK_COLD_THRESHOLD: "0" });
        pool.push(run.ms);
        pooled = run;
      }
      const a = stats(one);
      const b = stats(pool);
      rows.push({
        elements: label,
        "1 thread ms": fmt(a),
        "cold pool, 2 threads ms": fmt(b),
        "pool / 1 thread": (b.median / a.median).toFixed(2),
        "pool threads; units (stats, compare)":
          `${pooled.timings.threads}` +
          `; ${JSON.stringify(pooled.timings.unitsByThread.stats)} ` +
          `${JSON.stringify(pooled.timings.unitsByThread.compare)}`,
      });
      rmSync(files.x);
      rmSync(files.ref);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dist = join(here, "..", "dist");
  const powers = process.env.BENCH_COLD_POWERS ? process.env.BENCH_COLD_POWERS.split(",").map(Number) : undefined;
  console.log("one-shot compare, whole process: one thread against a cold pool of two");
  console.table(await timeColdThreshold(dist, { powers, repeats: Number(process.env.BENCH_REPEATS ?? 7) }));
}
