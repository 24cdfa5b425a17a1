/**
 * Finds the BatchNorm layers in a model's parameter names. A layer is a prefix that has both
 * running statistics under one framework's naming; its affine parameters are optional (PyTorch's
 * `affine=False`, Keras' `scale=False`/`center=False`). Entries of other layers (conv weights,
 * linear biases) have no running statistics and are ignored. A BatchNorm layer that keeps no
 * running statistics (`track_running_stats=False`) stores only weight and bias, which nothing tells
 * apart from another layer's: such layers are not found (name them with a manifest instead).
 */
import type { FrameworkName } from "../../conventions/index.js";

/** One framework's parameter naming, as data. */
export interface ParameterNaming {
  readonly name: "pytorch" | "keras";
  /** The framework whose convention the layers follow unless --framework says otherwise. */
  readonly framework: FrameworkName;
  readonly separator: string;
  readonly weight: string;
  readonly bias: string;
  readonly runningMean: string;
  readonly runningVar: string;
  readonly numBatchesTracked?: string;
}

export const PARAMETER_NAMINGS: readonly ParameterNaming[] = [
  // torch.nn.modules.batchnorm._NormBase: weight, bias, running_mean, running_var, num_batches_tracked.
  {
    name: "pytorch",
    framework: "torch",
    separator: ".",
    weight: "weight",
    bias: "bias",
    runningMean: "running_mean",
    runningVar: "running_var",
    numBatchesTracked: "num_batches_tracked",
  },
  // keras.layers.BatchNormalization: gamma, beta, moving_mean, moving_variance.
  {
    name: "keras",
    framework: "keras",
    separator: "/",
    weight: "gamma",
    bias: "beta",
    runningMean: "moving_mean",
    runningVar: "moving_variance",
  },
];

/** The parameter names of one BatchNorm layer (absent: the layer has no such parameter). */
export interface BatchNormLayer {
  readonly name: string;
  readonly weight?: string;
  readonly bias?: string;
  readonly runningMean: string;
  readonly runningVar: string;
  readonly numBatchesTracked?: string;
}

export interface FoundLayers {
  readonly naming: ParameterNaming;
  readonly layers: readonly BatchNormLayer[];
}

/** The layers of one naming, in the order their running means appear. */
function layersOf(names: readonly string[], naming: ParameterNaming): BatchNormLayer[] {
  const present = new Set(names);
  const suffix = `${naming.separator}${naming.runningMean}`;
  const layers: BatchNormLayer[] = [];
  for (const name of names) {
    if (!name.endsWith(suffix)) continue;
    const layer = name.slice(0, -suffix.length);
    const key = (parameter: string) => `${layer}${naming.separator}${parameter}`;
    if (!present.has(key(naming.runningVar))) continue;
    const optional = (parameter: string | undefined) =>
      parameter !== undefined && present.has(key(parameter)) ? key(parameter) : undefined;
    layers.push({
      name: layer,
      weight: optional(naming.weight),
      bias: optional(naming.bias),
      runningMean: key(naming.runningMean),
      runningVar: key(naming.runningVar),
      numBatchesTracked: optional(naming.numBatchesTracked),
    });
  }
  return layers;
}

/** The naming that finds the most layers, and its layers (none found: an empty list). */
export function findBatchNormLayers(names: readonly string[]): FoundLayers {
  let best: FoundLayers = { naming: PARAMETER_NAMINGS[0], layers: [] };
  for (const naming of PARAMETER_NAMINGS) {
    const layers = layersOf(names, naming);
    if (layers.length > best.layers.length) best = { naming, layers };
  }
  return best;
}
