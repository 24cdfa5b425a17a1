#!/usr/bin/env node
// The fused BN-and-compare pass alone (`timings.compareMs` of checkBatchNorm, in process, warm pool),
// on two kinds of reference: a framework-like one (every element within the flat tolerance: the
// error model's bound is never evaluated) and one of ill-conditioned data (mean 1e4, std 1, folded
// float32 arithmetic as PyTorch's CPU eval path: nearly every element outside the flat tolerance, so
// the bound is evaluated for each). Run by `npm run bench`; alone, `node bench/compare-pass.mjs
// [dist-dir]` times another build (e.g. the one before the error model) with this same code.
// Environment: BENCH_SHAPES, BENCH_REPEATS as run.mjs.
//
// The SIMD kernel's first sweep (bn-kernel.wat, issue #23), S1 = 32x64x56x56 read from .npy files with a
// float32 reference ((x - mean32) * invstd32, numpy; ulps 0 to 4e5), in process, one thread, warm,
// timings median (min–max); 2 cores shared with other jobs (load average 3-13 throughout):
//   before: statsMs 4.2 (4.0–5.5) to 5.7 (4.1–25.8), compareMs 37-40 (min 36.0–38.1)
//   after:  statsMs 4.3 (4.0–5.5) to 4.6 (4.0–20.2), compareMs 27-29 (min 25.9–28.4)
//   with 50 elements 1e-3 off (S1-faults): compareMs min 58.3 before, 39.9 after; NHWC (no sweep) alike.
//   The sweep alone with every block settled (an incorrect build, its floor) took 23 ms: the pass
//   still computes y, |e|, excess, ulps, histogram counts and maxima for every element (compare/stats
//   about 6x in process). Whole-process `compare --threads 2` medians of 9 under load average 7-9:
//   before statsMs 136.5 (74.5–194.7), compareMs 309.4 (172.5–391.2); after 128.9 (77.2–203.5),
//   302.6 (146.5–337.3), mostly the machine's load (earlier, at load 3-4: compareMs 115-144 before,
//   102-139 after).
//
// Round two of issue #23 (S1 from .npy files, PyTorch reference, in process, one thread, warm, median
// of 15): the running maxima of the required tolerances by f64x2.pmax instead of f64x2.max (whose
// NaN and signed-zero rules cost V8 eight dependent instructions on a loop-carried chain): compareMs
// 28.2 (27.4-28.7) -> 20.4 (19.4-20.5); statsMs 4.0 throughout. One call per unit instead of per
// channel changed nothing here (warm wrappers are cheap); it pays in a fresh process (targets.mjs).
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const SHAPES = { S1: [32, 64, 56, 56], S2: [8, 256, 28, 28], S3: [4096, 1024], S5: [3, 3, 2048, 2048] };

const stats = (runs) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};
const fmt = (s) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

function lcg(seed) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

/** Input, and a reference computed in float32 the way a framework would (folded for ill-conditioned data). */
function makeCase(lib, shape, illConditioned) {
  const count = shape.reduce((a, b) => a * b, 1);
  const input = lib.allocateShared("float32", count);
  const reference = lib.allocateShared("float32", count);
  const random = lcg(12345);
  for (let i = 0; i < count; i++) input[i] = (illConditioned ? 1e4 : 0) + random() * 4 - 1.5;
  const channels = shape[1];
  let inner = 1;
  for (let k = 2; k < shape.length; k++) inner *= shape[k];
  const sums = new Float64Array(channels);
  const squares = new Float64Array(channels);
  for (let i = 0; i < count; i++) sums[Math.floor(i / inner) % channels] += input[i];
  const n = count / channels;
  const means = sums.map((s) => s / n);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(i / inner) % channels;
    squares[c] += (input[i] - means[c]) ** 2;
  }
  const f = Math.fround;
  for (let i = 0; i < count; i++) {
    const c = Math.floor(i / inner) % channels;
    const mean = f(means[c]);
    const scale = f(1 / f(Math.sqrt(f(f(squares[c] / n) + 1e-5))));
    reference[i] = illConditioned
      ? f(f(input[i] * scale) + f(-f(mean * scale)))
      : f((input[i] - means[c]) / Math.sqrt(squares[c] / n + 1e-5));
  }
  return { input: { dtype: "float32", shape, data: input }, reference: { dtype: "float32", shape, data: reference } };
}

export async function timeComparePass(distDir, { shapes = Object.keys(SHAPES), repeats = 7 } = {}) {
  const lib = await import(pathToFileURL(join(distDir, "index.js")).href);
  const rows = [];
  for (const name of shapes) {
    const shape = SHAPES[name];
    if (!shape) continue;
    const row = { shape: `${name} ${shape.join("x")}` };
    for (const illConditioned of [false, true]) {
      for (const threads of [1, 2]) {
        const runs = await lib.withTensorArena(async () => {
          const { input, reference } = makeCase(lib, shape, illConditioned);
          const times = [];
          let verdict = "";
          await lib.checkBatchNorm({ input, reference }, { threads, parallelThreshold: 1 << 18 }); // warm-up
          for (let r = 0; r < repeats; r++) {
            const result = await lib.checkBatchNorm({ input, reference }, { threads, parallelThreshold: 1 << 18 });
            times.push(result.timings.compareMs);
            verdict = result.verdict ?? (result.conforms ? "conforms" : "does not conform");
          }
          return { times, verdict };
        });
        row[`${illConditioned ? "ill-cond" : "plain"} ${threads} thr ms`] =
          `${fmt(stats(runs.times))} ${runs.verdict === "conforms" ? "" : `[${runs.verdict}]`}`.trim();
      }
    }
    rows.push(row);
    await lib.closePool();
  }
  return rows;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const dist = resolve(process.argv[2] ?? join(new URL(".", import.meta.url).pathname, "..", "dist"));
  const shapes = process.env.BENCH_SHAPES ? process.env.BENCH_SHAPES.split(",") : undefined;
  console.log(`compare pass (timings.compareMs), ${dist}`);
  console.table(await timeComparePass(dist, { shapes, repeats: Number(process.env.BENCH_REPEATS ?? 7) }));
}
