// Maps a reference-corpus case.json (shared/reference-corpus/README.md) to `bn-check compare` arguments.
// Used by scripts/run-corpus.mjs and by the corpus tests on the fixtures copied from it.
import { existsSync } from "node:fs";
import { join } from "node:path";

const PRECISION_BITS = { bfloat16: 8, float16: 11, float32: 24, float64: 53 };
const FRAMEWORKS = { pytorch: "torch", flax: "flax", onnxruntime: "onnx", "onnx-reference": "onnx", onnx: "onnx" };
const PRESETS = ["torch", "tf", "keras", "keras3", "tf-nn", "onnx", "flax"];

/** The bn-check preset a case names: tensorflow.js cases carry it in `convention`. */
export function frameworkOf(caseJson) {
  if (caseJson.framework === "tensorflow.js") return caseJson.convention;
  // Other producers name their semantics in `convention` (pytorch | flax | onnx | a bn-check preset).
  const framework = FRAMEWORKS[caseJson.framework] ?? FRAMEWORKS[caseJson.convention] ?? (PRESETS.includes(caseJson.convention) ? caseJson.convention : undefined);
  if (framework === undefined) throw new Error(`unknown framework '${caseJson.framework}' in case ${caseJson.id}`);
  return framework;
}

/**
 * @param dir - the case folder
 * @param options.caseTolerance - use the case's tolerance (default true); false = bn-check defaults
 */
export function compareArgs(dir, caseJson, { caseTolerance = true } = {}) {
  const args = ["compare", join(dir, "input.npy"), join(dir, "ref.npy"), "--framework", frameworkOf(caseJson)];
  // track_running_stats=False in eval means PyTorch uses batch statistics: that is train-mode arithmetic.
  const mode = caseJson.mode === "eval" && caseJson.track_running_stats === false ? "train" : caseJson.mode;
  args.push("--mode", mode, "--channel-axis", String(caseJson.channel_axis), "--eps", String(caseJson.eps));
  // momentum null is PyTorch's cumulative average; elsewhere (stateless tf.nn) it means "no momentum".
  const framework = frameworkOf(caseJson);
  if (typeof caseJson.momentum === "number") args.push("--momentum", String(caseJson.momentum));
  else if (caseJson.momentum === null && framework === "torch") args.push("--momentum", "none");
  if (caseJson.num_batches_tracked_before !== undefined && caseJson.num_batches_tracked_before !== null) {
    args.push("--num-batches-tracked", String(caseJson.num_batches_tracked_before));
  }
  const optional = { weight: "--weight", bias: "--bias", running_mean: "--running-mean", running_var: "--running-var", ref_running_mean: "--ref-running-mean", ref_running_var: "--ref-running-var" };
  for (const [file, flag] of Object.entries(optional)) {
    if (existsSync(join(dir, `${file}.npy`))) args.push(flag, join(dir, `${file}.npy`));
  }
  if (caseTolerance && caseJson.tolerance) args.push("--atol", String(caseJson.tolerance.atol), "--rtol", String(caseJson.tolerance.rtol));
  // --compute-dtype names an upcast: a reference computed in fewer bits than its file holds.
  if (PRECISION_BITS[caseJson.compute_dtype] < PRECISION_BITS[caseJson.stored_dtype]) args.push("--compute-dtype", caseJson.compute_dtype);
  args.push("--equal-nan");
  return args;
}
