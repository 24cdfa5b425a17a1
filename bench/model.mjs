// Whole-process `bn-check model` on a MobileNet-size dump (torchvision MobileNetV3-Small, full
// width: 10 MB of parameters, 34 BatchNorm layers, batch 8 at 224x224, written by
// fixtures/generate_model.py --full) next to the Python script a user writes today
// (bench/script-model.py: torch.load, np.load, F.batch_norm per layer, torch.testing.assert_close),
// both timed from process start to exit. Also the readers alone: opening an archive (its index) and
// reading every layer's tensors, per format.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "bn-check.cjs");

const stats = (runs) => {
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};
const fmt = (s) => `${s.median.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;

function timeProcess(command, args, repeats, env = process.env) {
  const runs = [];
  let last;
  for (let r = 0; r < repeats; r++) {
    const started = performance.now();
    last = spawnSync(command, args, { encoding: "utf8", maxBuffer: 1 << 28, env });
    runs.push(performance.now() - started);
  }
  return { ...stats(runs), status: last.status, stdout: last.stdout, stderr: last.stderr };
}

/** Writes the dump once into `work` (python with torchvision needed); returns its folder or a reason. */
export function makeModelDump(python, work) {
  const folder = join(work, "mobilenet-v3-small");
  if (existsSync(join(folder, "eval", "acts.npz"))) return { folder };
  const made = spawnSync(python, [join(here, "..", "fixtures", "generate_model.py"), "--full", "--out", folder], {
    encoding: "utf8",
    cwd: join(here, "..", "fixtures"),
  });
  if (made.status !== 0) return { reason: made.stderr.trim().split("\n").at(-1) };
  return { folder };
}

export async function timeModel(python, work, { repeats = 5 } = {}) {
  const dump = makeModelDump(python, work);
  if (dump.folder === undefined) return { rows: [], notes: [`model: skipped (${dump.reason})`] };
  const { folder } = dump;
  const rows = [];
  const notes = [];
  const convention = ["--eps", "0.001", "--momentum", "0.01"];
  const python_ = timeProcess(
    python,
    [
      join(here, "script-model.py"),
      join(folder, "params.pt"),
      join(folder, "eval", "acts.npz"),
      "eval",
      "0.001",
      "0.01",
    ],
    repeats,
  );
  if (python_.status !== 0) notes.push(`model: the Python script failed (${python_.stderr.trim().split("\n").at(-1)})`);
  for (const [params, acts] of [
    ["params.safetensors", "acts.safetensors"],
    ["params.safetensors", "acts.npz"],
    ["params.pt", "acts.npz"],
  ]) {
    const ours = timeProcess(
      process.execPath,
      [
        bin,
        "model",
        "--params",
        join(folder, params),
        "--activations",
        join(folder, "eval", acts),
        ...convention,
        "--quiet",
      ],
      repeats,
    );
    if (ours.status !== 0) {
      notes.push(`model ${params} + ${acts}: exit ${ours.status} (${ours.stderr.trim().split("\n").at(-1) ?? ""})`);
      continue;
    }
    rows.push({
      files: `${params} + ${acts}`,
      "bn-check ms": fmt(ours),
      "python script ms": fmt(python_),
      ratio: (ours.median / python_.median).toFixed(3),
      summary: ours.stdout.trim().split("\n").at(-1),
    });
    // NODE_EXTRA_CA_CERTS makes every Node process parse that CA bundle before any script runs (this
    // workplace sets it: +40-50 ms per start); Python reads it only for TLS. Both are shown.
    if (process.env.NODE_EXTRA_CA_CERTS) {
      const { NODE_EXTRA_CA_CERTS: _unset, ...env } = process.env;
      const bare = timeProcess(
        process.execPath,
        [
          bin,
          "model",
          "--params",
          join(folder, params),
          "--activations",
          join(folder, "eval", acts),
          ...convention,
          "--quiet",
        ],
        repeats,
        env,
      );
      rows.push({
        files: `${params} + ${acts}, no NODE_EXTRA_CA_CERTS`,
        "bn-check ms": fmt(bare),
        "python script ms": fmt(python_),
        ratio: (bare.median / python_.median).toFixed(3),
        summary: "",
      });
    }
  }
  return { rows, notes, readers: timeReaders(folder, repeats) };
}

/** Opening each archive and reading every layer's tensors from it, in a fresh process each time. */
function timeReaders(folder, repeats) {
  const script = `
    const { openTensorArchive } = await import(${JSON.stringify(join(here, "..", "dist", "io", "archive-formats.js"))});
    const path = process.argv[1];
    const t0 = performance.now();
    const archive = openTensorArchive(path);
    const t1 = performance.now();
    let bytes = 0;
    for (const name of archive.names) { try { bytes += archive.read(name).data.byteLength; } catch {} }
    const t2 = performance.now();
    console.log(JSON.stringify({ open: t1 - t0, read: t2 - t1, tensors: archive.names.length, bytes }));`;
  const rows = [];
  for (const file of ["params.safetensors", "params.pt", "eval/acts.safetensors", "eval/acts.npz"]) {
    const runs = [];
    let last;
    for (let r = 0; r < repeats; r++) {
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script, join(folder, file)], {
        encoding: "utf8",
      });
      if (run.status !== 0) break;
      last = JSON.parse(run.stdout);
      runs.push(last);
    }
    if (last === undefined) {
      rows.push({ file, note: "not readable by this build" });
      continue;
    }
    const open = stats(runs.map((r) => r.open));
    const read = stats(runs.map((r) => r.read));
    rows.push({
      file,
      tensors: last.tensors,
      MB: (last.bytes / 1e6).toFixed(1),
      "open ms": open.median.toFixed(2),
      "read all ms": read.median.toFixed(1),
      "MB/s": (last.bytes / 1e6 / (read.median / 1000)).toFixed(0),
    });
  }
  return rows;
}
