/**
 * Maps a reference-corpus case folder (`case.json` + tensors; docs/suite.md describes the layout) to
 * a check case. The same mapping gives `compare` flags (scripts/corpus-args.mjs) and `suite` cases.
 */
import { existsSync } from "node:fs";
import { readJsonFile } from "../../io/read-file.js";
import { join } from "node:path";
import { FRAMEWORK_NAMES, type FrameworkName } from "../../conventions/index.js";
import { InputFileError } from "../../core/errors.js";
import type { ComputeDType } from "../../core/tensor.js";
import { LAYOUTS, type LayoutName } from "../../core/layout.js";
import type { CheckCase } from "./case.js";
import { argumentsFor, OPTION_FIELDS, TENSOR_FIELDS, TOLERANCE_FIELDS, type TensorKey } from "./fields.js";

const FRAMEWORKS: Record<string, FrameworkName> = {
  pytorch: "torch",
  torch: "torch",
  flax: "flax",
  jax: "flax",
  onnxruntime: "onnx",
  "onnx-reference": "onnx",
  onnx: "onnx",
  tensorflow: "tf",
  "tf.keras": "tf",
  "tf-keras": "tf",
  keras: "tf",
  keras3: "keras3",
};
const PRECISION_BITS: Record<string, number> = { bfloat16: 8, float16: 11, float32: 24, float64: 53 };

interface CaseJson {
  id?: string;
  framework?: string;
  convention?: string;
  mode?: "train" | "eval";
  track_running_stats?: boolean | null;
  channel_axis?: number;
  layout?: string;
  eps?: number;
  momentum?: number | null;
  num_batches_tracked_before?: number | null;
  steps?: number;
  expected?: "match" | "mismatch";
  tolerance?: { atol?: number; rtol?: number };
  compute_dtype?: string;
  stored_dtype?: string;
}

/** A case.json is metadata: a few kilobytes. Anything far larger is not one. */
const CASE_JSON_MAX_BYTES = 1 << 20;

/** The fields bn-check reads from a case.json, with the type each must have (others are ignored). */
const CASE_JSON_TYPES: Record<string, (value: unknown) => boolean> = {
  id: (v) => typeof v === "string",
  framework: (v) => typeof v === "string",
  convention: (v) => typeof v === "string",
  mode: (v) => v === "train" || v === "eval",
  track_running_stats: (v) => typeof v === "boolean" || v === null,
  channel_axis: (v) => Number.isInteger(v),
  layout: (v) => typeof v === "string",
  eps: (v) => typeof v === "number" && v > 0 && Number.isFinite(v),
  momentum: (v) => v === null || (typeof v === "number" && v >= 0 && v <= 1),
  num_batches_tracked_before: (v) => v === null || (Number.isInteger(v) && (v as number) >= 0),
  steps: (v) => Number.isInteger(v) && (v as number) >= 1,
  expected: (v) => v === "match" || v === "mismatch",
  tolerance: (v) =>
    v === null ||
    (typeof v === "object" &&
      !Array.isArray(v) &&
      ["atol", "rtol"].every(
        (k) =>
          (v as Record<string, unknown>)[k] === undefined ||
          (typeof (v as Record<string, unknown>)[k] === "number" && ((v as Record<string, number>)[k] as number) >= 0),
      )),
  compute_dtype: (v) => typeof v === "string" && v in PRECISION_BITS,
  stored_dtype: (v) => typeof v === "string" && v in PRECISION_BITS,
};

/** A parsed case.json checked field by field, as a manifest is against its schema. */
function checkedCaseJson(value: unknown, path: string): CaseJson {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InputFileError(path, "must hold a JSON object");
  for (const [key, accepts] of Object.entries(CASE_JSON_TYPES)) {
    const field = (value as Record<string, unknown>)[key];
    if (Object.hasOwn(value, key) && field !== undefined && !accepts(field))
      throw new InputFileError(path, `field '${key}' has an invalid value ${JSON.stringify(field)}`);
  }
  const caseJson = value as CaseJson & { tolerance?: CaseJson["tolerance"] | null };
  return { ...caseJson, tolerance: caseJson.tolerance ?? undefined };
}

/** The bn-check preset a case names: tensorflow.js cases carry it in `convention`. */
export function frameworkOfCase(caseJson: CaseJson, name: string): FrameworkName {
  const byConvention = FRAMEWORK_NAMES.includes(caseJson.convention as FrameworkName)
    ? (caseJson.convention as FrameworkName)
    : undefined;
  // `convention` names the semantics; it wins when it is a bn-check preset (tensorflow.js cases).
  // Own properties only: a case.json naming "__proto__" or "constructor" is not a preset.
  const preset = (name: string | undefined) =>
    name !== undefined && Object.hasOwn(FRAMEWORKS, name) ? FRAMEWORKS[name] : undefined;
  const framework = byConvention ?? preset(caseJson.framework) ?? preset(caseJson.convention);
  if (framework === undefined)
    throw new InputFileError(
      name,
      `names framework '${caseJson.framework}' / convention '${caseJson.convention}', which bn-check has no preset for`,
    );
  return framework;
}

/** A case folder's case.json, parsed (not yet checked). */
export function readCaseJson(dir: string): unknown {
  return readJsonFile(join(dir, "case.json"), CASE_JSON_MAX_BYTES);
}

/**
 * @param dir - the case folder
 * @param name - the case's name in reports (default: the folder)
 * @param json - its case.json, if already read
 */
export function caseFromCorpusFolder(dir: string, name: string = dir, json: unknown = readCaseJson(dir)): CheckCase {
  const jsonPath = join(dir, "case.json");
  const caseJson = checkedCaseJson(json, jsonPath);
  const framework = frameworkOfCase(caseJson, jsonPath);
  const files: Partial<Record<TensorKey, string>> = {};
  for (const field of TENSOR_FIELDS)
    if (existsSync(join(dir, field.corpusFile))) files[field.key] = join(dir, field.corpusFile);
  const steps = (caseJson.steps ?? 1) > 1;
  // track_running_stats=False in eval means PyTorch uses batch statistics: train-mode arithmetic.
  // Elsewhere (tf.nn's stateless batchNorm) eval means the given statistics, whatever is tracked.
  const mode =
    caseJson.mode === "eval" && caseJson.track_running_stats === false && framework === "torch"
      ? "train"
      : caseJson.mode;
  // momentum null is PyTorch's cumulative average; elsewhere (stateless tf.nn) it means no momentum.
  const momentum =
    typeof caseJson.momentum === "number"
      ? caseJson.momentum
      : caseJson.momentum === null && framework === "torch"
        ? null
        : undefined;
  // --compute-dtype names an upcast: a reference computed in fewer bits than its file holds.
  const upcast =
    (PRECISION_BITS[caseJson.compute_dtype ?? ""] ?? 99) < (PRECISION_BITS[caseJson.stored_dtype ?? ""] ?? 0);
  return {
    name,
    kind: "compare",
    expected: caseJson.expected ?? "match",
    files,
    framework,
    mode,
    // The channel axis as given; else the layout's (NCHW, NHWC, ...); else the framework's default.
    channelAxis:
      caseJson.channel_axis ??
      (caseJson.layout !== undefined && caseJson.layout in LAYOUTS
        ? LAYOUTS[caseJson.layout as LayoutName].channelAxis
        : undefined),
    eps: caseJson.eps,
    momentum,
    numBatchesTracked: caseJson.num_batches_tracked_before ?? undefined,
    steps,
    computeDtype: upcast ? (caseJson.compute_dtype as ComputeDType) : undefined,
    tolerance: { ...caseJson.tolerance, equalNan: true },
  };
}

/** The `bn-check compare` arguments equivalent to a case (used by scripts and tests), from the field tables. */
export function compareArgsOf(check: CheckCase): string[] {
  const args = ["compare", check.files.input ?? "", check.files.reference ?? ""];
  const settings = { ...check, framework: check.framework ?? "torch" } as Record<string, unknown>;
  for (const field of OPTION_FIELDS) args.push(...argumentsFor(field, settings[field.key]));
  for (const field of TENSOR_FIELDS)
    if (field.flag !== null && check.files[field.key] !== undefined) args.push(field.flag, check.files[field.key]!);
  for (const field of TOLERANCE_FIELDS)
    args.push(...argumentsFor(field, (check.tolerance as Record<string, unknown> | undefined)?.[field.key]));
  return args;
}
