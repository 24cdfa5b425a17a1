/**
 * A check case: what `compare`, `diff` and every `suite` entry run. Paths are resolved already.
 */
import type { FrameworkName } from "../../conventions/index.js";
import type { Mode } from "../../conventions/resolve.js";
import type { LayoutName } from "../../core/layout.js";
import type { ComputeDType } from "../../core/tensor.js";
import type { TensorKey } from "./fields.js";

export interface TensorTolerance {
  readonly atol?: number;
  readonly rtol?: number;
  readonly equalNan?: boolean;
}

/** Per-tensor tolerances, by the tensor's name in reports. */
export type TensorTolerances = {
  readonly [name in
    | "output"
    | "running_mean"
    | "running_var"
    | "grad_input"
    | "grad_weight"
    | "grad_bias"]?: TensorTolerance;
};

/** The tensor files of a case, by the keys of fields.ts's TENSOR_FIELDS. */
export type CaseFiles = { readonly [K in TensorKey]?: string };

export interface CheckCase {
  readonly name: string;
  /** Why the case could not be loaded (a bad case.json): running it reports this as its error. */
  readonly loadError?: string;
  /** compare: BatchNorm of the input against the reference; diff: two tensors, no BatchNorm. */
  readonly kind: "compare" | "diff";
  /** "mismatch": the case passes when the check finds a mismatch (fault and numerics cases). */
  readonly expected: "match" | "mismatch";
  readonly files: CaseFiles;
  /** An ONNX backend node-test folder: files and attributes come from it. */
  readonly onnxNodeTest?: string;
  readonly framework?: FrameworkName;
  readonly mode?: Mode;
  readonly layout?: LayoutName;
  readonly channelAxis?: number;
  readonly eps?: number;
  readonly momentum?: number | null;
  readonly numBatchesTracked?: number;
  /** The leading axis of input and reference is a sequence of training steps. */
  readonly steps?: boolean;
  readonly computeDtype?: ComputeDType;
  /** Judge by the flat tolerance alone, without the error model (`--strict`). */
  readonly strict?: boolean;
  /** List every channel in the per-channel tables (`--all-channels`). */
  readonly allChannels?: boolean;
  /** Tolerance for every tensor; `tolerances` overrides it per tensor. */
  readonly tolerance?: TensorTolerance;
  readonly tolerances?: TensorTolerances;
}
