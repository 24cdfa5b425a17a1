/**
 * The two sides of a fold check as data, whatever file they came from: the BatchNorm layers of the
 * unfused model, each with the layer it folds into, and the folded model's weighted layers. The
 * readers that build them are in app/fold/fold-sources.ts; the judgement reads only these.
 */
import type { Tensor } from "../../core/tensor.js";

/** Where a layer keeps its output channels, and what that reading calls the op. */
export interface ChannelReading {
  readonly axis: number;
  readonly groups: number;
  /** "Conv", "ConvTranspose", "Gemm", "MatMul", or for a state_dict "Conv/Linear (dim 0)" / "ConvTranspose (dim 1)". */
  readonly op: string;
}

/** A lazily read tensor with its name in the file. */
export interface NamedTensor {
  readonly name: string;
  read(): Tensor;
}

/** One BatchNorm of the unfused model with the layer it folds into. */
export interface FoldLayer {
  /** The BatchNorm's name: its parameters' common prefix (as `model` names layers), else its ONNX node's name. */
  readonly name: string;
  /** The layer before it: a module name (state_dict) or the node's weight prefix / node name (ONNX). */
  readonly conv: string;
  readonly convNode: string | null;
  readonly weight: NamedTensor;
  readonly bias: NamedTensor | null;
  readonly gamma: NamedTensor | null;
  readonly beta: NamedTensor | null;
  readonly mean: NamedTensor;
  readonly variance: NamedTensor;
  /** The eps the unfused model states (an ONNX node's attribute); undefined: the command's. */
  readonly epsilon?: number;
  /** The readings to try, preferred first (one for ONNX, where the op is known). */
  readonly readings: readonly ChannelReading[];
  /** Graph or key order, for ties. */
  readonly order: number;
}

export interface UnfusedModel {
  readonly path: string;
  readonly kind: "state_dict" | "onnx";
  /** Whose default eps applies where nothing states one: Keras naming means Keras. */
  readonly framework: "torch" | "keras";
  readonly layers: readonly FoldLayer[];
  /** BatchNorm layers with no convolution or linear layer right before them: nothing to fold into. */
  readonly notFoldable: readonly string[];
  /** Convolution/linear layers no BatchNorm follows: counted, not judged. */
  readonly convsWithoutBatchNorm: number;
}

/** A weighted layer of the folded model: a candidate for a BatchNorm's fold. */
export interface FoldedLayer {
  readonly name: string;
  readonly node: string | null;
  readonly op: string | null;
  readonly shape: readonly number[];
  readonly weight: NamedTensor;
  readonly bias: NamedTensor | null;
  readonly order: number;
}

export interface FoldedModel {
  readonly path: string;
  readonly kind: "state_dict" | "onnx";
  readonly layers: readonly FoldedLayer[];
  /** BatchNorm layers (state_dict names) or nodes (ONNX) still present, by the names their parameters carry. */
  readonly batchNorms: readonly { readonly name: string; readonly parameters: readonly string[] }[];
}
