#!/usr/bin/env node
// bn-check kernel benchmark (first cut; the full peer comparison is issue 4's).
// Times train-mode BatchNorm (statistics pass + normalisation into a new tensor, running-stat update)
// and the fused compare pass, in process with a warm worker pool, for 1 and 2 threads.
// Effective GB/s for BN train counts 3 x the tensor's bytes (read twice, write once).
import { batchNorm, checkBatchNorm, closePool, tensorFromArray } from "../dist/index.js";

const SHAPES = { S1: [32, 64, 56, 56], S4: [4, 3, 2, 2], S5small: [3, 3, 1024, 1024] };
const REPEATS = Number(process.env.BENCH_REPEATS ?? 9);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function makeInput(shape) {
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(new SharedArrayBuffer(count * 4));
  let state = 12345;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = (state / 2 ** 32) * 4 - 2;
  }
  return { dtype: "float32", shape, data };
}

async function time(fn) {
  const runs = [];
  await fn(); // warm-up: starts the pool, JIT-compiles the kernel
  for (let r = 0; r < REPEATS; r++) {
    const started = performance.now();
    await fn();
    runs.push(performance.now() - started);
  }
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs) };
}

const rows = [];
for (const [name, shape] of Object.entries(SHAPES)) {
  const input = makeInput(shape);
  const bytes = input.data.byteLength;
  const reference = (await batchNorm({ input }, { threads: 2 })).output;
  for (const threads of [1, 2]) {
    const bn = await time(() => batchNorm({ input }, { threads }));
    const cmp = await time(() => checkBatchNorm({ input, reference }, { threads }));
    rows.push({
      shape: `${name} ${shape.join("x")}`,
      threads,
      "bn train ms (med/min/max)": `${bn.median.toFixed(2)} / ${bn.min.toFixed(2)} / ${bn.max.toFixed(2)}`,
      "bn GB/s": ((3 * bytes) / (bn.median / 1000) / 1e9).toFixed(2),
      "compare ms (med)": cmp.median.toFixed(2),
      "compare GB/s": ((3 * bytes) / (cmp.median / 1000) / 1e9).toFixed(2),
    });
  }
  await closePool();
}
console.table(rows);
