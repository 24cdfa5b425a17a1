/**
 * The fields of a check case, one row each, from which every spelling of them comes: its key in a
 * `CheckCase`, its command-line flag, its key in a suite manifest, its file or key in a
 * reference-corpus case folder, and (for tensors) its role in reports. The CLI's tensor options,
 * the manifest mapping, the corpus mapping, `compare` arguments of a case and report roles are
 * derived from these tables; a test checks schema/manifest.schema.json against them. Adding a
 * tensor is adding a row.
 */

import { CheckInputError } from "../../core/errors.js";

export interface TensorField {
  readonly key: string;
  /** The option that names it (null: a positional argument of compare/diff). */
  readonly flag: string | null;
  /** A hidden alias of the flag. */
  readonly alias?: string;
  readonly manifestKey: string;
  readonly corpusFile: string;
  /** How reports name the file. */
  readonly role: string;
  /** The option's help text. */
  readonly help: string;
  /**
   * Which option group declares it: the BatchNorm parameters every convention command takes, or compare's references.
   */
  readonly group: "positional" | "parameters" | "references";
}

export const TENSOR_FIELDS = [
  {
    key: "input",
    flag: null,
    manifestKey: "input",
    corpusFile: "input.npy",
    role: "input",
    help: "the BN input tensor",
    group: "positional",
  },
  {
    key: "reference",
    flag: null,
    manifestKey: "ref",
    corpusFile: "ref.npy",
    role: "reference",
    help: "the reference output to check",
    group: "positional",
  },
  {
    key: "weight",
    flag: "--weight",
    alias: "--gamma",
    manifestKey: "weight",
    corpusFile: "weight.npy",
    role: "weight",
    help: "per-channel scale (gamma); default: 1",
    group: "parameters",
  },
  {
    key: "bias",
    flag: "--bias",
    alias: "--beta",
    manifestKey: "bias",
    corpusFile: "bias.npy",
    role: "bias",
    help: "per-channel shift (beta); default: 0",
    group: "parameters",
  },
  {
    key: "runningMean",
    flag: "--running-mean",
    manifestKey: "runningMean",
    corpusFile: "running_mean.npy",
    role: "running mean",
    help: "running mean before the call (required for eval)",
    group: "parameters",
  },
  {
    key: "runningVar",
    flag: "--running-var",
    manifestKey: "runningVar",
    corpusFile: "running_var.npy",
    role: "running var",
    help: "running variance before the call (required for eval)",
    group: "parameters",
  },
  {
    key: "refRunningMean",
    flag: "--ref-running-mean",
    manifestKey: "refRunningMean",
    corpusFile: "ref_running_mean.npy",
    role: "ref running mean",
    help: "reference running mean after the call (after the last step): also check it",
    group: "references",
  },
  {
    key: "refRunningVar",
    flag: "--ref-running-var",
    manifestKey: "refRunningVar",
    corpusFile: "ref_running_var.npy",
    role: "ref running var",
    help: "reference running variance after the call (after the last step): also check it",
    group: "references",
  },
  {
    key: "refRunningMeanSteps",
    flag: "--ref-running-mean-steps",
    manifestKey: "refRunningMeanSteps",
    corpusFile: "ref_running_mean_steps.npy",
    role: "ref running mean steps",
    help: "with --steps: reference running mean after each step, shape [steps, C]",
    group: "references",
  },
  {
    key: "refRunningVarSteps",
    flag: "--ref-running-var-steps",
    manifestKey: "refRunningVarSteps",
    corpusFile: "ref_running_var_steps.npy",
    role: "ref running var steps",
    help: "with --steps: reference running variance after each step, shape [steps, C]",
    group: "references",
  },
  {
    key: "gradOutput",
    flag: "--grad-output",
    manifestKey: "gradOutput",
    corpusFile: "grad_output.npy",
    role: "grad output",
    help: "the upstream gradient dy (same shape as the input): check BatchNorm's gradients",
    group: "references",
  },
  {
    key: "refGradInput",
    flag: "--ref-grad-input",
    manifestKey: "refGradInput",
    corpusFile: "ref_grad_input.npy",
    role: "ref grad input",
    help: "with --grad-output: the reference dx to check",
    group: "references",
  },
  {
    key: "refGradWeight",
    flag: "--ref-grad-weight",
    alias: "--ref-grad-gamma",
    manifestKey: "refGradWeight",
    corpusFile: "ref_grad_weight.npy",
    role: "ref grad weight",
    help: "with --grad-output: the reference dγ (one value per channel) to check",
    group: "references",
  },
  {
    key: "refGradBias",
    flag: "--ref-grad-bias",
    alias: "--ref-grad-beta",
    manifestKey: "refGradBias",
    corpusFile: "ref_grad_bias.npy",
    role: "ref grad bias",
    help: "with --grad-output: the reference dβ (one value per channel) to check",
    group: "references",
  },
] as const satisfies readonly TensorField[];

export type TensorKey = (typeof TENSOR_FIELDS)[number]["key"];

/** The scalar settings of a case that the manifest, the corpus mapping and `compare` arguments share. */
export interface OptionField {
  readonly key: string;
  readonly flag: string;
  readonly manifestKey: string;
  /** How a value becomes command-line arguments (a boolean flag has no value). */
  readonly kind: "value" | "boolean" | "momentum";
}

export const OPTION_FIELDS = [
  { key: "framework", flag: "--framework", manifestKey: "framework", kind: "value" },
  { key: "mode", flag: "--mode", manifestKey: "mode", kind: "value" },
  { key: "layout", flag: "--layout", manifestKey: "layout", kind: "value" },
  { key: "channelAxis", flag: "--channel-axis", manifestKey: "channelAxis", kind: "value" },
  { key: "eps", flag: "--eps", manifestKey: "eps", kind: "value" },
  { key: "momentum", flag: "--momentum", manifestKey: "momentum", kind: "momentum" },
  { key: "numBatchesTracked", flag: "--num-batches-tracked", manifestKey: "numBatchesTracked", kind: "value" },
  { key: "steps", flag: "--steps", manifestKey: "steps", kind: "boolean" },
  { key: "computeDtype", flag: "--compute-dtype", manifestKey: "computeDtype", kind: "value" },
  { key: "strict", flag: "--strict", manifestKey: "strict", kind: "boolean" },
] as const satisfies readonly OptionField[];

/** Tolerance settings: per case (`atol`, `rtol`, `equalNan`), and per tensor under `tolerances`. */
export const TOLERANCE_FIELDS = [
  { key: "atol", flag: "--atol", manifestKey: "atol", kind: "value" },
  { key: "rtol", flag: "--rtol", manifestKey: "rtol", kind: "value" },
  { key: "equalNan", flag: "--equal-nan", manifestKey: "equalNan", kind: "boolean" },
] as const satisfies readonly OptionField[];

/** The manifest keys that are neither tensors nor the settings above (case identity and sources). */
export const MANIFEST_CASE_KEYS = ["name", "kind", "expected", "onnxNodeTest", "caseFolder", "tolerances"] as const;

/** The report role of a tensor key. */
export function roleOf(key: TensorKey): string {
  return TENSOR_FIELDS.find((field) => field.key === key)!.role;
}

/** `compare` arguments for a value of an option field (none for an unset value or a false boolean). */
export function argumentsFor(field: OptionField, value: unknown): string[] {
  if (value === undefined || value === false) return [];
  if (field.kind === "boolean") return [field.flag];
  if (field.kind === "momentum") return [field.flag, value === null ? "none" : String(value)];
  return [field.flag, String(value)];
}

/**
 * The command-line flag of a library field: CheckTensors' `referenceGradInput` is the case's
 * `refGradInput`, `--ref-grad-input`; CheckRequest's `mode` is `--mode`. Unknown fields stay as named.
 */
export function flagOfField(field: string): string {
  const key = field.replace(/^reference(?=[A-Z])/, "ref");
  const tensor: TensorField | undefined = TENSOR_FIELDS.find((candidate) => candidate.key === key);
  if (tensor?.flag) return tensor.flag;
  return [...OPTION_FIELDS, ...TOLERANCE_FIELDS].find((candidate) => candidate.key === field)?.flag ?? field;
}

/** An error's line as the command line says it: a check's inputs named by their flags. */
export function describeError(error: unknown): string {
  if (error instanceof CheckInputError) return error.describe(flagOfField);
  return error instanceof Error ? error.message : String(error);
}
