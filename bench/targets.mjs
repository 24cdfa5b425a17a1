#!/usr/bin/env node
// The four figures issue #23 sets targets for, measured side by side in one run, whole process, in
// interleaved rounds (one of each per round, so that a noisy moment weighs on every column alike;
// ratios are taken within a round):
//   1. the compare pass against the statistics pass on S1 (timings.compareMs / statsMs);
//   2. the threads a one-shot S1 `compare --threads 2` uses (timings.threads, units by thread);
//   3. start-up: `--version` and the S4 compare against `node -e 0`;
//   4. S1 and S1b `compare` against the Python check (bench/script-compare.py: np.load both,
//      torch F.batch_norm at 2 threads, torch.testing.assert_close).
// Run by `npm run bench` (alone: BENCH_ONLY=targets npm run bench, or node bench/targets.mjs).
// Environment: BENCH_REPEATS (rounds, default 7); BENCH_STARTUP_REPEATS (runs of each start-up
// figure per round, whose median the round takes; default 3). NODE_EXTRA_CA_CERTS, which this workplace sets and
// which makes every Node start parse a CA bundle, is left out of every process (a user's shell has none).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "bn-check.cjs");
const fixtures = join(here, "..", "fixtures", "classic");

const stats = (runs) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};
const fmt = (s, digits = 2) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

function timed(command, args, env) {
  const started = performance.now();
  const run = spawnSync(command, args, { encoding: "utf8", env, maxBuffer: 1 << 28 });
  const ms = performance.now() - started;
  if (run.status !== 0 && run.status !== 1)
    throw new Error(`${command} ${args.join(" ")}: exit ${run.status}: ${run.stderr}`);
  return { ms, stdout: run.stdout };
}

/** Input and PyTorch reference of `shape`, made by python (torch); null when torch is missing. */
function makeCase(python, work, name, shape) {
  const input = join(work, `${name}.npy`);
  const reference = join(work, `${name}-ref.npy`);
  const made = spawnSync(
    python,
    [
      "-c",
      `import numpy as np, torch, torch.nn.functional as F
rng = np.random.default_rng(7); x = rng.standard_normal(${JSON.stringify(shape)}, dtype=np.float32) * 2 + 0.5
np.save('${input}', x); c = x.shape[1]
np.save('${reference}', F.batch_norm(torch.from_numpy(x), torch.zeros(c), torch.ones(c), training=True).numpy())`,
    ],
    { encoding: "utf8" },
  );
  return made.status === 0 ? { input, reference } : null;
}

export async function measureTargets({
  python,
  repeats = 7,
  startupRepeats = Number(process.env.BENCH_STARTUP_REPEATS ?? 3),
}) {
  const work = join(tmpdir(), `bn-check-targets-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const { NODE_EXTRA_CA_CERTS: _unset, ...env } = process.env;
  const s1 = makeCase(python, work, "S1", [32, 64, 56, 56]);
  const s1b = makeCase(python, work, "S1b", [32, 256, 56, 56]);
  const s4 = { input: join(fixtures, "input.npy"), reference: join(fixtures, "ref.npy") };
  const node = process.execPath;
  const compare = (c, extra = []) => [bin, "compare", c.input, c.reference, "--format", "json", ...extra];
  // One untimed run of each: the OS cache holds the files and the launcher has written its code cache.
  for (const args of [["-e", "0"], [bin, "--version"], compare(s4), ...(s1 ? [compare(s1, ["--threads", "2"])] : [])])
    timed(node, args, env);

  const columns = {
    node: [],
    version: [],
    s4: [],
    s1: [],
    s1b: [],
    pythonS1: [],
    pythonS1b: [],
    ratioStats: [],
    threads: [],
    claimed: [],
  };
  const within = { version: [], s4: [], s1: [], s1b: [] };
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (let round = 0; round < repeats; round++) {
    // Start-up figures are a few ms apart on a machine whose `node -e 0` varies by tens of ms: each
    // round takes the median of `startupRepeats` interleaved runs of each.
    const starts = { base: [], version: [], small: [] };
    for (let k = 0; k < startupRepeats; k++) {
      starts.base.push(timed(node, ["-e", "0"], env).ms);
      starts.version.push(timed(node, [bin, "--version"], env).ms);
      starts.small.push(timed(node, compare(s4), env).ms);
    }
    const base = median(starts.base);
    const version = median(starts.version);
    const small = median(starts.small);
    columns.node.push(base);
    columns.version.push(version);
    columns.s4.push(small);
    within.version.push(version / base);
    within.s4.push(small / base);
    if (s1 === null) continue;
    const ours = timed(node, compare(s1, ["--threads", "2"]), env);
    const report = JSON.parse(ours.stdout);
    const theirs = timed(python, [join(here, "script-compare.py"), s1.input, s1.reference], env).ms;
    columns.s1.push(ours.ms);
    columns.pythonS1.push(theirs);
    within.s1.push(ours.ms / theirs);
    columns.ratioStats.push(report.timings.compareMs / report.timings.statsMs);
    columns.threads.push(report.timings.threads);
    // The fewest threads that claimed units in any of the run's passes (statistics, compare).
    const passes = Object.values(report.timings.unitsByThread ?? {});
    columns.claimed.push(
      passes.length === 0 ? 1 : Math.min(...passes.map((units) => units.filter((count) => count > 0).length)),
    );
    const big = timed(node, compare(s1b, ["--threads", "2"]), env).ms;
    const bigTheirs = timed(python, [join(here, "script-compare.py"), s1b.input, s1b.reference], env).ms;
    columns.s1b.push(big);
    columns.pythonS1b.push(bigTheirs);
    within.s1b.push(big / bigTheirs);
  }
  rmSync(work, { recursive: true, force: true });
  const rows = [
    {
      target: "compare pass / stats pass, S1 (≤ 2)",
      measured: s1 ? fmt(stats(columns.ratioStats)) : "— (no torch)",
      detail: "timings.compareMs / statsMs, whole process, --threads 2",
    },
    {
      target: "threads one-shot, S1 --threads 2 (2, both claiming)",
      measured: s1
        ? `${stats(columns.threads).median} thread(s), ${stats(columns.claimed).median} ` +
          `claiming units in every pass (min ${stats(columns.claimed).min})`
        : "—",
      detail: "timings.threads and timings.unitsByThread",
    },
    {
      target: "--version vs node -e 0 (≤ 1.2)",
      measured: fmt(stats(within.version)),
      detail: `${fmt(stats(columns.version), 1)} ms vs ${fmt(stats(columns.node), 1)} ms (per round: median of ${startupRepeats} runs)`,
    },
    {
      target: "S4 compare vs node -e 0 (≤ 1.5)",
      measured: fmt(stats(within.s4)),
      detail: `${fmt(stats(columns.s4), 1)} ms (per round: median of ${startupRepeats} runs)`,
    },
    {
      target: "S1 compare vs Python check (≤ 0.1)",
      measured: s1 ? fmt(stats(within.s1), 3) : "— (no torch)",
      detail: s1 ? `${fmt(stats(columns.s1), 0)} ms vs ${fmt(stats(columns.pythonS1), 0)} ms` : "",
    },
    {
      target: "S1b compare vs Python check (≤ 0.2)",
      measured: s1b ? fmt(stats(within.s1b), 3) : "— (no torch)",
      detail: s1b ? `${fmt(stats(columns.s1b), 0)} ms vs ${fmt(stats(columns.pythonS1b), 0)} ms` : "",
    },
  ];
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  console.log("issue #23 targets (median (min–max) over rounds; ratios within a round):");
  console.table(await measureTargets({ python, repeats: Number(process.env.BENCH_REPEATS ?? 7) }));
}
