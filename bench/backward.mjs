// The backward kernel (dx, dγ, dβ of sum(y·dy), train mode: the sums pass and the dx pass) in process
// with a warm pool, next to PyTorch CPU's F.batch_norm + backward() at the same thread count.
// Used by bench/run.mjs; run alone with `node bench/backward.mjs` after `npm run build`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { allocateShared, batchNormGradients, closePool, withTensorArena, writeNpy } from "../dist/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

function filled(count, seed) {
  const data = allocateShared("float32", count);
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = (state / 2 ** 32) * 4 - 1.5;
  }
  return data;
}

const summary = (runs) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};
const fmt = (s) => (s === undefined ? "—" : `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`);

/**
 * @returns rows of median (min–max) ms per shape: bn-check's gradients, PyTorch forward+backward and backward alone.
 */
export async function timeBackward(shapes, { threads = 2, repeats = 7 } = {}) {
  const work = join(tmpdir(), `bn-check-bench-backward-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const rows = [];
  for (const [name, shape] of shapes) {
    const count = shape.reduce((a, b) => a * b, 1);
    const ours = await withTensorArena(async () => {
      const input = { dtype: "float32", shape, data: filled(count, 12345) };
      const gradOutput = { dtype: "float32", shape, data: filled(count, 777) };
      const call = () => batchNormGradients({ input, gradOutput }, { threads, parallelThreshold: 1 << 18 });
      await call();
      const runs = [];
      for (let r = 0; r < repeats; r++) {
        const started = performance.now();
        await call();
        runs.push(performance.now() - started);
      }
      const path = join(work, `${name}.npy`);
      writeNpy(path, input);
      return { runs: summary(runs), path };
    });
    const peer = spawnSync(
      python,
      [join(here, "peers.py"), ours.path, "1", String(threads), String(repeats), "backward"],
      { encoding: "utf8" },
    );
    const theirs = peer.status === 0 ? JSON.parse(peer.stdout) : {};
    rows.push({
      shape: `${name} ${shape.join("x")}`,
      threads,
      "bn-check gradients ms": fmt(ours.runs),
      "torch forward+backward ms": fmt(theirs.torch_forward_backward),
      "torch backward ms": fmt(theirs.torch_backward),
      "ratio vs torch forward+backward": theirs.torch_forward_backward
        ? (ours.runs.median / theirs.torch_forward_backward.median).toFixed(2)
        : "—",
    });
  }
  rmSync(work, { recursive: true, force: true });
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.table(
    await timeBackward(
      [
        ["S1", [32, 64, 56, 56]],
        ["S5", [3, 3, 2048, 2048]],
      ],
      { repeats: Number(process.env.BENCH_REPEATS ?? 7) },
    ),
  );
  await closePool();
}
