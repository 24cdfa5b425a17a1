#!/usr/bin/env node
// `npm run bench`: bn-check's kernel and whole-process times next to its peers, measured in one run.
// Prints, per shape: median/min/max of train-mode BatchNorm (statistics, normalisation into a new
// tensor, running-statistics update) in process with a warm pool for 1 and 2 threads, PyTorch CPU
// F.batch_norm(training=True) and numpy through /usr/bin/python3 (skipped with a note where missing),
// the effective GB/s (3 x the tensor's bytes: read twice, write once) next to a copy bandwidth
// measured here, and the whole-process, small-case, memory and scaling figures. No test asserts times.
// Environment: BENCH_SHAPES=S1,S4 (default all), BENCH_REPEATS (default 7), BENCH_HUGE=1 adds 6e8 elements,
// BENCH_ONLY=targets runs only the issue-23 targets (bench/targets.mjs); BENCH_ONLY=cold-threshold only the one-shot
// pool measurement.
import { spawnSync } from "node:child_process";
import { Worker } from "node:worker_threads";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { allocateShared, batchNorm, closePool, kernelName, withTensorArena, writeNpy } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "bn-check.cjs");
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const REPEATS = Number(process.env.BENCH_REPEATS ?? 7);
const SHAPES = {
  S1: [32, 64, 56, 56],
  S1b: [32, 256, 56, 56],
  S2: [8, 256, 28, 28],
  S3: [4096, 1024],
  S4: [4, 3, 2, 2],
  S5: [3, 3, 2048, 2048],
};
const selected = (process.env.BENCH_SHAPES ?? Object.keys(SHAPES).join(",")).split(",");
const work = join(tmpdir(), `bn-check-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

const stats = (runs) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};
const fmt = (s) => (s === undefined ? "—" : `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`);

/**
 * The input in shared memory: in the ambient tensor arena when called inside `withTensorArena`, as the CLI reads it.
 */
function makeInput(shape) {
  const count = shape.reduce((a, b) => a * b, 1);
  const data = allocateShared("float32", count);
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = (state / 2 ** 32) * 4 - 1.5;
  }
  return { dtype: "float32", shape, data };
}

// In process with a warm pool: the warm pool's threshold applies (a cold one-shot run waits for larger work).
const WARM = { parallelThreshold: 1 << 18 };

/**
 * Times train-mode BatchNorm on a fresh input of `shape`, in a tensor arena of its own (as every CLI
 * command runs), so the SIMD kernel runs it unless `kernel` is "js".
 * @param reuse - write y into the same buffer every time (as a warm allocator does for PyTorch);
 *   otherwise every call allocates fresh memory, whose first touch is costly on some machines.
 */
async function timeKernel(shape, threads, reuse = false, kernel = "wasm") {
  const previous = process.env.BN_CHECK_KERNEL;
  if (kernel === "js") process.env.BN_CHECK_KERNEL = "js";
  try {
    return await withTensorArena(async () => {
      const input = makeInput(shape);
      const runs = [];
      const outputBuffer = reuse ? allocateShared("float32", input.data.length) : undefined;
      await batchNorm({ input }, { threads, ...WARM, outputBuffer }); // warm-up: pool start, JIT
      for (let r = 0; r < REPEATS; r++) {
        const started = performance.now();
        await batchNorm({ input }, { threads, ...WARM, outputBuffer });
        runs.push(performance.now() - started);
      }
      return stats(runs);
    });
  } finally {
    if (previous === undefined) delete process.env.BN_CHECK_KERNEL;
    else process.env.BN_CHECK_KERNEL = previous;
  }
}

/**
 * Copy bandwidth (read + write, GB/s) with `threads` threads copying their share of a `bytes`-long
 * shared buffer at the same time: the memory system's ceiling for a pass that streams the same way.
 */
async function copyBandwidth(bytes, threads) {
  const source = new Float32Array(new SharedArrayBuffer(bytes)).fill(1);
  const target = new Float32Array(new SharedArrayBuffer(bytes)).fill(0);
  const code = `
    const { parentPort, workerData: { source, target, first, end } } = require("node:worker_threads");
    const from = new Float32Array(source, first * 4, end - first);
    const to = new Float32Array(target, first * 4, end - first);
    parentPort.on("message", () => { to.set(from); parentPort.postMessage(0); });`;
  const share = Math.ceil(source.length / threads);
  const workers = Array.from(
    { length: threads },
    (_, t) =>
      new Worker(code, {
        eval: true,
        workerData: {
          source: source.buffer,
          target: target.buffer,
          first: t * share,
          end: Math.min(source.length, (t + 1) * share),
        },
      }),
  );
  const round = () =>
    Promise.all(
      workers.map(
        (worker) =>
          new Promise((resolve) => {
            worker.once("message", resolve);
            worker.postMessage(0);
          }),
      ),
    );
  await round(); // warm-up
  const runs = [];
  for (let r = 0; r < 7; r++) {
    const started = performance.now();
    await round();
    runs.push(performance.now() - started);
  }
  await Promise.all(workers.map((worker) => worker.terminate()));
  return (2 * bytes) / (stats(runs).median / 1000) / 1e9;
}

function wholeProcess(args, repeats = 3, env = process.env) {
  const runs = [];
  let rss = 0;
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    const run = spawnSync("/usr/bin/time", ["-f", "%M", ...args], { encoding: "utf8", env });
    runs.push(performance.now() - started);
    rss = Math.max(rss, Number(run.stderr.trim().split("\n").at(-1)) || 0);
  }
  return { ...stats(runs), rssKb: rss };
}

// One-shot runs with and without the worker pool, 2^18 to 2^25 elements and S1 (bench/cold-threshold.mjs,
// the measurement behind COLD_PARALLEL_THRESHOLD); BENCH_ONLY=cold-threshold runs it alone.
async function coldThreshold() {
  const { timeColdThreshold } = await import("./cold-threshold.mjs");
  console.log("one-shot compare, whole process: one thread against a cold pool of two (COLD_PARALLEL_THRESHOLD):");
  console.table(await timeColdThreshold(join(here, "..", "dist"), { repeats: REPEATS }));
}
// BENCH_ONLY=targets: the four figures issue #23 sets targets for, and nothing else (bench/targets.mjs).
if (process.env.BENCH_ONLY === "targets") {
  const { measureTargets } = await import("./targets.mjs");
  console.log("issue #23 targets (median (min–max) over rounds; ratios within a round):");
  console.table(await measureTargets({ python, repeats: REPEATS }));
  process.exit(0);
}
if (process.env.BENCH_ONLY === "cold-threshold") {
  await coldThreshold();
  process.exit(0);
}

const rows = [];
const notes = [];
const bandwidth = { 1: await copyBandwidth(1 << 27, 1), 2: await copyBandwidth(1 << 27, 2) };
for (const name of selected) {
  const shape = SHAPES[name];
  if (!shape) continue;
  const bytes = shape.reduce((a, b) => a * b, 4);
  const one = await timeKernel(shape, 1);
  const two = await timeKernel(shape, 2);
  const oneReused = await timeKernel(shape, 1, true);
  const twoReused = await timeKernel(shape, 2, true);
  const twoReusedJs = await timeKernel(shape, 2, true, "js");
  const path = join(work, `${name}.npy`);
  writeNpy(path, makeInput(shape));
  const peers = spawnSync(python, [join(here, "peers.py"), path, "1", "2", String(REPEATS)], { encoding: "utf8" });
  const peer = peers.status === 0 ? JSON.parse(peers.stdout) : {};
  if (peers.status !== 0) notes.push(`${name}: python peers skipped (${peers.stderr.trim().split("\n").at(-1)})`);
  if (peer.torch_missing) notes.push(`${name}: torch missing (${peer.torch_missing})`);
  rows.push({
    shape: `${name} ${shape.join("x")}`,
    "bn-check 1 thread ms": fmt(one),
    "1 thread, reused output ms": fmt(oneReused),
    "bn-check 2 threads ms": fmt(two),
    "2 threads, reused output ms": fmt(twoReused),
    "same, JS kernel ms": fmt(twoReusedJs),
    "torch 2 threads ms": fmt(peer.torch),
    "numpy ms": fmt(peer.numpy),
    "GB/s (2 thr; reused)":
      `${((3 * bytes) / (two.median / 1000) / 1e9).toFixed(1)}; ` +
      `${((3 * bytes) / (twoReused.median / 1000) / 1e9).toFixed(1)}`,
    "2 thr vs torch": peer.torch
      ? `${(peer.torch.median / two.median).toFixed(2)}x (${(peer.torch.median / twoReused.median).toFixed(2)}x reused)`
      : "—",
    "2 thr vs numpy": peer.numpy ? `${(peer.numpy.median / two.median).toFixed(2)}x` : "—",
    "1→2 thr speed-up (reused)":
      `${(one.median / two.median).toFixed(2)}x ` + `(${(oneReused.median / twoReused.median).toFixed(2)}x)`,
  });
  await closePool();
}
console.log(
  `kernel: ${kernelName()}; copy bandwidth in this run (read + write, 128 MiB): ` +
    `${bandwidth[1].toFixed(1)} GB/s with 1 thread, ${bandwidth[2].toFixed(1)} GB/s with 2`,
);
console.table(rows);

// Whole process: bn-check compare vs the equivalent Python script, on inputs with a PyTorch reference.
const processRows = [];
for (const name of selected.filter((n) => ["S1", "S1b", "S4"].includes(n))) {
  const path = join(work, `${name}.npy`);
  const reference = join(work, `${name}-ref.npy`);
  const made = spawnSync(
    python,
    [
      "-c",
      `import numpy as np, torch, torch.nn.functional as F; x=torch.from_numpy(np.load('${path}')); c=x.shape[1]; ` +
        `np.save('${reference}', F.batch_norm(x, torch.zeros(c), torch.ones(c), training=True).numpy())`,
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) {
    notes.push(`${name}: whole-process comparison skipped (no torch)`);
    continue;
  }
  const ours = wholeProcess([process.execPath, bin, "compare", path, reference, "--format", "json"]);
  const theirs = wholeProcess([python, join(here, "script-compare.py"), path, reference]);
  const baseline = wholeProcess([process.execPath, "-e", "0"], 5);
  processRows.push({
    shape: name,
    "bn-check compare ms": fmt(ours),
    "python script ms": fmt(theirs),
    ratio: `${(ours.median / theirs.median).toFixed(3)}`,
    "node -e 0 ms": fmt(baseline),
    "vs node -e 0": `${(ours.median / baseline.median).toFixed(2)}x`,
    "peak RSS MB": (ours.rssKb / 1024).toFixed(0),
    "input+ref MB": ((2 * makeInputBytes(SHAPES[name])) / 1e6).toFixed(0),
  });
  // NODE_EXTRA_CA_CERTS (set in this workplace) makes every Node start parse that CA bundle first
  // (+40-50 ms); Python reads it only for TLS. The same run without it:
  if (process.env.NODE_EXTRA_CA_CERTS) {
    const { NODE_EXTRA_CA_CERTS: _unset, ...env } = process.env;
    const bare = wholeProcess([process.execPath, bin, "compare", path, reference, "--format", "json"], 3, env);
    const bareNode = wholeProcess([process.execPath, "-e", "0"], 5, env);
    processRows.push({
      shape: `${name}, no NODE_EXTRA_CA_CERTS`,
      "bn-check compare ms": fmt(bare),
      "python script ms": fmt(theirs),
      ratio: `${(bare.median / theirs.median).toFixed(3)}`,
      "node -e 0 ms": fmt(bareNode),
      "vs node -e 0": `${(bare.median / bareNode.median).toFixed(2)}x`,
      "peak RSS MB": (bare.rssKb / 1024).toFixed(0),
      "input+ref MB": ((2 * makeInputBytes(SHAPES[name])) / 1e6).toFixed(0),
    });
  }
}
function makeInputBytes(shape) {
  return shape.reduce((a, b) => a * b, 4);
}
if (processRows.length > 0) console.table(processRows);

// The fused BN-and-compare pass alone, on well-conditioned data and on ill-conditioned data where
// the error model's bound is evaluated for nearly every element (bench/compare-pass.mjs; run it with
// another build's dist/ to compare before and after a kernel change).
const { timeComparePass } = await import("./compare-pass.mjs");
console.log("compare pass (timings.compareMs, in process, warm pool):");
console.table(
  await timeComparePass(join(here, "..", "dist"), {
    shapes: selected.filter((n) => ["S1", "S2", "S3", "S5"].includes(n)),
    repeats: REPEATS,
  }),
);

// The backward kernel (dx, dγ, dβ) next to PyTorch's forward + backward, 2 threads (bench/backward.mjs).
const { timeBackward } = await import("./backward.mjs");
const backwardShapes = selected.filter((n) => ["S1", "S5"].includes(n)).map((n) => [n, SHAPES[n]]);
if (backwardShapes.length > 0) {
  console.log(
    "backward (batchNormGradients, train mode, in process, warm pool) vs PyTorch CPU F.batch_norm + backward():",
  );
  console.table(await timeBackward(backwardShapes, { threads: 2, repeats: REPEATS }));
}

// Whole-process `model` on a MobileNet-size dump vs the Python script (bench/model.mjs).
const { timeModel } = await import("./model.mjs");
const modelBench = await timeModel(python, work, { repeats: Math.min(REPEATS, 5) });
if (modelBench.rows.length > 0) {
  console.log("model (MobileNetV3-Small dump, 34 BatchNorm layers, eval, whole process) vs bench/script-model.py:");
  console.table(modelBench.rows);
  console.log("archive readers (fresh process: open = index, read all = every tensor):");
  console.table(modelBench.readers);
}
notes.push(...modelBench.notes);

// Whole-process `fold` on a ResNet-18 pair vs the Python check (bench/fold.mjs).
const { timeFold } = await import("./fold.mjs");
const foldBench = await timeFold(python, work, { repeats: Math.min(REPEATS, 5) });
if (foldBench.rows.length > 0) {
  console.log("fold (ResNet-18 state_dict and its torch fuse, whole process) vs bench/script-fold.py:");
  console.table(foldBench.rows);
}
notes.push(...foldBench.notes);

// Small cases inside a suite (one process, warm): per-case totalMs from the JSON report over the
// corpus cases copied into fixtures/ (tensors of 8 to ~6000 elements).
const suiteRun = spawnSync(
  process.execPath,
  [bin, "suite", join(here, "..", "fixtures", "corpus"), "--format", "json"],
  { encoding: "utf8", maxBuffer: 1 << 28 },
);
try {
  const perCase = JSON.parse(suiteRun.stdout)
    .cases.map((c) => c.timings?.totalMs)
    .filter((t) => typeof t === "number");
  const s = stats(perCase);
  console.log(
    `suite over fixtures/corpus: ${perCase.length} cases, per case ${fmt(s)} ms (median (min–max)), ` +
      `p90 ${[...perCase].sort((x, y) => x - y)[Math.floor(perCase.length * 0.9)].toFixed(2)} ms`,
  );
} catch {
  notes.push("suite timing skipped (no JSON report)");
}

// Scaling: time per element from 1e3 to 1e8 elements (6e8 with BENCH_HUGE=1), 2 threads.
const scaling = [];
const sizes = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, ...(process.env.BENCH_HUGE ? [6e8] : [])];
for (const elements of sizes) {
  const shape = [Math.max(1, Math.round(elements / 16 / 64)), 16, 64];
  const time = await timeKernel(shape, 2);
  const count = shape.reduce((a, b) => a * b, 1);
  scaling.push({
    elements: count,
    "ms (median)": time.median.toFixed(3),
    "ns/element": ((time.median * 1e6) / count).toFixed(2),
  });
}
await closePool();
console.table(scaling);
await coldThreshold();
const { measureTargets } = await import("./targets.mjs");
console.log("issue #23 targets (median (min–max) over rounds; ratios within a round):");
console.table(await measureTargets({ python, repeats: REPEATS }));
for (const note of notes) console.log(`note: ${note}`);
rmSync(work, { recursive: true, force: true });
