/**
 * The two sides of a fold check as data: the BatchNorm layers of the unfused model, each with the
 * convolution or linear layer before it, and the folded model's weighted layers. Either side is a
 * file of named tensors (a state_dict: .pt/.pth, .safetensors, .npz, …) or an ONNX model.
 *
 * A state_dict does not say which layer feeds which: the layer before a BatchNorm is the module
 * registered just before it under the same parent (`conv1`/`bn1`, `downsample.0`/`downsample.1`),
 * which a state_dict's key order keeps. It does not say the op either: a weight whose dim 0 is the
 * BatchNorm's width is read as a Conv or Linear (output channels on dim 0), one whose dim 1 is, as a
 * ConvTranspose (dim 1); a square one is ambiguous and both readings are tried. An ONNX graph names
 * the op and its edges, and there the axis is the op's.
 */
import { InputFileError } from "../../core/errors.js";
import type { TensorArchive } from "../../io/archive.js";
import { ARCHIVE_FORMATS, archiveFormatOf, openTensorArchive } from "../../io/archive-formats.js";
import { type OnnxConstant, type OnnxModel, type OnnxNode, readOnnxModel } from "../../io/onnx-model.js";
import { type BatchNormLayer, findBatchNormLayers } from "../model/bn-layers.js";
import type { Tensor } from "../../core/tensor.js";
import type {
  ChannelReading,
  FoldedLayer,
  FoldedModel,
  FoldLayer,
  NamedTensor,
  UnfusedModel,
} from "../../check/fold/fold-model.js";
import { listSome } from "../../core/format.js";

export type {
  ChannelReading,
  FoldedLayer,
  FoldedModel,
  FoldLayer,
  NamedTensor,
  UnfusedModel,
} from "../../check/fold/fold-model.js";

/** The linear ops a BatchNorm folds into. */
const LINEAR_OPS = new Set(["Conv", "ConvTranspose", "Gemm", "MatMul"]);

function isOnnxPath(path: string): boolean {
  return path.toLowerCase().endsWith(".onnx");
}

function openArchive(path: string, option: string): TensorArchive {
  if (archiveFormatOf(path) === undefined) {
    const extensions = [...ARCHIVE_FORMATS.flatMap((format) => format.extensions), ".onnx"].join(", ");
    throw new InputFileError(path, `${option} takes a file of named tensors or an ONNX model (${extensions})`);
  }
  return openTensorArchive(path);
}

function archiveTensor(archive: TensorArchive, name: string): NamedTensor {
  let cached: Tensor | null = null;
  return { name, read: () => (cached ??= archive.read(name)) };
}

function onnxTensor(constant: OnnxConstant): NamedTensor {
  return { name: constant.name, read: () => constant.read() };
}

/** The common prefix of names, in whole `.`-separated segments ("" when they share none). */
export function commonPrefix(names: readonly string[]): string {
  if (names.length === 0) return "";
  let parts = names[0].split(".");
  for (const name of names.slice(1)) {
    const other = name.split(".");
    let k = 0;
    while (k < parts.length && k < other.length && parts[k] === other[k]) k++;
    parts = parts.slice(0, k);
  }
  if (names.length === 1) parts = parts.slice(0, -1);
  return parts.join(".");
}

function parentOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(0, dot);
}

/** The state_dict readings of a weight for a BatchNorm of `channels` channels. */
function stateDictReadings(shape: readonly number[], channels: number): ChannelReading[] {
  const readings: ChannelReading[] = [];
  if (shape.length >= 2 && shape[0] === channels) readings.push({ axis: 0, groups: 1, op: "Conv/Linear (dim 0)" });
  if (shape.length >= 3 && shape[1] === channels) readings.push({ axis: 1, groups: 1, op: "ConvTranspose (dim 1)" });
  return readings;
}

function readStateDict(path: string, option: string): UnfusedModel {
  const archive = openArchive(path, option);
  const { naming, layers } = findBatchNormLayers(archive.names);
  if (naming.name === "keras" && layers.length > 0) return readKerasWeights(archive, path, layers);
  if (layers.length === 0) {
    throw new InputFileError(
      path,
      `holds no BatchNorm layer (no '<layer>.running_mean' with ` +
        `'<layer>.running_var'; it holds ${listSome(archive.names)})`,
    );
  }
  const bnParameters = new Set(
    layers.flatMap((layer) => [layer.weight, layer.bias, layer.runningMean, layer.runningVar, layer.numBatchesTracked]),
  );
  const position = new Map(archive.names.map((name, index) => [name, index]));
  // Modules that carry a weight, in registration (key) order: the candidates a BatchNorm folds into.
  const modules = archive.names
    .filter((name) => name.endsWith(".weight") && !bnParameters.has(name))
    .map((name) => name.slice(0, -".weight".length));
  const used = new Set<string>();
  const foldLayers: FoldLayer[] = [];
  const notFoldable: string[] = [];
  for (const layer of layers) {
    const first = Math.min(
      ...[layer.weight, layer.bias, layer.runningMean, layer.runningVar]
        .filter((n): n is string => n !== undefined)
        .map((n) => position.get(n) ?? Infinity),
    );
    const parent = parentOf(layer.name);
    const before = modules.filter((module) => (position.get(`${module}.weight`) ?? Infinity) < first);
    const conv = before[before.length - 1];
    if (conv === undefined || parentOf(conv) !== parent) {
      notFoldable.push(layer.name);
      continue;
    }
    const weight = archiveTensor(archive, `${conv}.weight`);
    const biasName = `${conv}.bias`;
    const mean = archiveTensor(archive, layer.runningMean);
    const channels = mean.read().shape[0] ?? 0;
    const readings = stateDictReadings(weight.read().shape, channels);
    if (readings.length === 0) {
      notFoldable.push(layer.name);
      continue;
    }
    used.add(conv);
    foldLayers.push(
      archiveLayer(archive, layer, {
        conv,
        weight,
        mean,
        readings,
        order: first,
        bias: position.has(biasName) ? biasName : null,
      }),
    );
  }
  const convsWithoutBatchNorm = modules.filter(
    (module) => !used.has(module) && !isVectorModule(archive, module),
  ).length;
  return { path, kind: "state_dict", framework: "torch", layers: foldLayers, notFoldable, convsWithoutBatchNorm };
}

/** Keras' kernels: `<layer>/kernel` (Conv, Dense), `<layer>/depthwise_kernel`. */
const KERAS_KERNEL = /\/(kernel|depthwise_kernel)$/;

/**
 * Keras keeps its output channels last: Conv2D [kh, kw, in, out], Dense [in, out]; Conv2DTranspose
 * [kh, kw, out, in] and DepthwiseConv2D [kh, kw, in, 1] on the second-to-last axis.
 */
function kerasReadings(shape: readonly number[], channels: number): ChannelReading[] {
  const readings: ChannelReading[] = [];
  const last = shape.length - 1;
  if (shape.length >= 2 && shape[last] === channels)
    readings.push({ axis: last, groups: 1, op: "Conv/Dense (last axis)" });
  if (shape.length >= 3 && shape[last - 1] === channels)
    readings.push({ axis: last - 1, groups: 1, op: "Conv2DTranspose/DepthwiseConv2D (axis -2)" });
  return readings;
}

/**
 * Keras weights (.h5, .keras): layers are flat; a BatchNormalization folds into the kernel layer saved just before it.
 */
function readKerasWeights(archive: TensorArchive, path: string, layers: readonly BatchNormLayer[]): UnfusedModel {
  const position = new Map(archive.names.map((name, index) => [name, index]));
  const kernels = archive.names.filter((name) => KERAS_KERNEL.test(name));
  const used = new Set<string>();
  const foldLayers: FoldLayer[] = [];
  const notFoldable: string[] = [];
  for (const layer of layers) {
    const first = Math.min(
      ...[layer.weight, layer.bias, layer.runningMean, layer.runningVar]
        .filter((n): n is string => n !== undefined)
        .map((n) => position.get(n) ?? Infinity),
    );
    const kernel = kernels.filter((name) => (position.get(name) ?? Infinity) < first).at(-1);
    const mean = archiveTensor(archive, layer.runningMean);
    const channels = mean.read().shape[0] ?? 0;
    const weight = kernel === undefined ? undefined : archiveTensor(archive, kernel);
    const readings = weight === undefined ? [] : kerasReadings(weight.read().shape, channels);
    if (kernel === undefined || weight === undefined || readings.length === 0 || used.has(kernel)) {
      notFoldable.push(layer.name);
      continue;
    }
    used.add(kernel);
    const conv = kernel.replace(KERAS_KERNEL, "");
    const biasName = `${conv}/bias`;
    foldLayers.push(
      archiveLayer(archive, layer, {
        conv,
        weight,
        mean,
        readings,
        order: first,
        bias: position.has(biasName) ? biasName : null,
      }),
    );
  }
  return {
    path,
    kind: "state_dict",
    framework: "keras",
    layers: foldLayers,
    notFoldable,
    convsWithoutBatchNorm: kernels.filter((k) => !used.has(k)).length,
  };
}

/** A BatchNorm of a file of named tensors and the layer it folds into. */
function archiveLayer(
  archive: TensorArchive,
  layer: BatchNormLayer,
  found: {
    conv: string;
    weight: NamedTensor;
    mean: NamedTensor;
    readings: ChannelReading[];
    order: number;
    bias: string | null;
  },
): FoldLayer {
  const optional = (name: string | undefined | null) =>
    name === undefined || name === null ? null : archiveTensor(archive, name);
  return {
    name: layer.name,
    conv: found.conv,
    convNode: null,
    weight: found.weight,
    bias: optional(found.bias),
    gamma: optional(layer.weight),
    beta: optional(layer.bias),
    mean: found.mean,
    variance: archiveTensor(archive, layer.runningVar),
    readings: found.readings,
    order: found.order,
  };
}

/** A module whose weight is a vector (LayerNorm, GroupNorm, an embedding's scale): no conv or linear. */
function isVectorModule(archive: TensorArchive, module: string): boolean {
  try {
    return archive.read(`${module}.weight`).shape.length < 2;
  } catch {
    return true;
  }
}

/** The name an ONNX layer goes by: its parameters' common prefix, else its node's name. */
function onnxLayerName(node: OnnxNode, parameterNames: readonly string[]): string {
  const named = parameterNames.filter((name) => name !== "" && !name.startsWith("onnx::"));
  const prefix = named.length === parameterNames.length ? commonPrefix(named) : "";
  if (prefix !== "") return prefix;
  return node.name !== "" ? node.name : `${node.opType} #${node.index}`;
}

function onnxReading(node: OnnxNode, weightShape: readonly number[]): ChannelReading {
  const groups = typeof node.attributes.get("group") === "number" ? (node.attributes.get("group") as number) : 1;
  if (node.opType === "ConvTranspose") return { axis: 1, groups, op: "ConvTranspose" };
  if (node.opType === "Gemm") return { axis: node.attributes.get("transB") === 1 ? 0 : 1, groups: 1, op: "Gemm" };
  if (node.opType === "MatMul") return { axis: weightShape.length - 1, groups: 1, op: "MatMul" };
  return { axis: 0, groups: 1, op: "Conv" };
}

/** The linear node that produces a value (through an Add of a constant bias after a MatMul), with that bias. */
function linearProducer(model: OnnxModel, value: string): { node: OnnxNode; bias: OnnxConstant | null } | undefined {
  const producer = model.producer(value);
  if (producer === undefined) return undefined;
  if (LINEAR_OPS.has(producer.opType) && producer.domain === "") {
    const bias = producer.opType === "MatMul" ? null : (model.constant(producer.inputs[2] ?? "") ?? null);
    return model.constant(producer.inputs[1] ?? "") === undefined ? undefined : { node: producer, bias };
  }
  if (producer.opType === "Add" && producer.inputs.length === 2) {
    for (const [k, other] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const bias = model.constant(producer.inputs[k]);
      const inner = model.producer(producer.inputs[other]);
      if (bias !== undefined && inner?.opType === "MatMul" && model.constant(inner.inputs[1] ?? "") !== undefined)
        return { node: inner, bias };
    }
  }
  return undefined;
}

function readOnnxUnfused(path: string): UnfusedModel {
  const model = readOnnxModel(path);
  const batchNorms = model.nodes.filter((node) => node.opType === "BatchNormalization" && node.domain === "");
  if (batchNorms.length === 0)
    throw new InputFileError(
      path,
      "has no BatchNormalization node: nothing to check a fold against (is it the folded model?)",
    );
  const layers: FoldLayer[] = [];
  const notFoldable: string[] = [];
  const used = new Set<OnnxNode>();
  for (const bn of batchNorms) {
    const parameters = bn.inputs.slice(1, 5).map((input) => model.constant(input));
    const name = onnxLayerName(
      bn,
      parameters.map((p) => p?.name ?? ""),
    );
    const linear = linearProducer(model, bn.inputs[0] ?? "");
    if (parameters.some((p) => p === undefined) || linear === undefined) {
      notFoldable.push(name);
      continue;
    }
    const [gamma, beta, mean, variance] = parameters as OnnxConstant[];
    const weight = model.constant(linear.node.inputs[1]) as OnnxConstant;
    used.add(linear.node);
    const epsilon = bn.attributes.get("epsilon");
    layers.push({
      name,
      conv:
        commonPrefix([weight.name, ...(linear.bias === null ? [] : [linear.bias.name])]) ||
        linear.node.name ||
        weight.name,
      convNode: linear.node.name,
      weight: onnxTensor(weight),
      bias: linear.bias === null ? null : onnxTensor(linear.bias),
      gamma: onnxTensor(gamma),
      beta: onnxTensor(beta),
      mean: onnxTensor(mean),
      variance: onnxTensor(variance),
      epsilon: typeof epsilon === "number" ? epsilon : 1e-5,
      readings: [onnxReading(linear.node, weight.shape)],
      order: bn.index,
    });
  }
  const convsWithoutBatchNorm = model.nodes.filter(
    (node) => LINEAR_OPS.has(node.opType) && !used.has(node) && model.constant(node.inputs[1] ?? "") !== undefined,
  ).length;
  return { path, kind: "onnx", framework: "torch", layers, notFoldable, convsWithoutBatchNorm };
}

/** The unfused model (`--params`): a state_dict-like file or an ONNX model. */
export function readUnfusedModel(path: string): UnfusedModel {
  return isOnnxPath(path) ? readOnnxUnfused(path) : readStateDict(path, "--params");
}

function readFoldedStateDict(path: string): FoldedModel {
  const archive = openArchive(path, "--folded");
  const { naming, layers: batchNorms } = findBatchNormLayers(archive.names);
  const bnParameters = new Set(
    batchNorms.flatMap((layer) => [
      layer.weight,
      layer.bias,
      layer.runningMean,
      layer.runningVar,
      layer.numBatchesTracked,
    ]),
  );
  const names = new Set(archive.names);
  const layers: FoldedLayer[] = [];
  archive.names.forEach((name, order) => {
    const keras = KERAS_KERNEL.test(name);
    if ((!name.endsWith(".weight") && !keras) || bnParameters.has(name)) return;
    const weight = archiveTensor(archive, name);
    const module = keras ? name.replace(KERAS_KERNEL, "") : name.slice(0, -".weight".length);
    const biasName = keras ? `${module}/bias` : `${module}.bias`;
    layers.push({
      name: module,
      node: null,
      op: null,
      shape: [],
      weight,
      bias: names.has(biasName) ? archiveTensor(archive, biasName) : null,
      order,
    });
  });
  return {
    path,
    kind: "state_dict",
    layers: layers
      .map((layer) => ({ ...layer, shape: layer.weight.read().shape }))
      .filter((layer) => layer.shape.length >= 2),
    batchNorms:
      naming.name === "pytorch"
        ? batchNorms.map((layer) => ({
            name: layer.name,
            parameters: [layer.weight, layer.bias, layer.runningMean, layer.runningVar].filter(
              (n): n is string => n !== undefined,
            ),
          }))
        : [],
  };
}

function readFoldedOnnx(path: string): FoldedModel {
  const model = readOnnxModel(path);
  const layers: FoldedLayer[] = [];
  for (const node of model.nodes) {
    if (!LINEAR_OPS.has(node.opType) || node.domain !== "") continue;
    const weight = model.constant(node.inputs[1] ?? "");
    if (weight === undefined) continue;
    let bias: OnnxConstant | null = node.opType === "MatMul" ? null : (model.constant(node.inputs[2] ?? "") ?? null);
    if (node.opType === "MatMul") {
      const add = model.consumers(node.outputs[0] ?? "").find((consumer) => consumer.opType === "Add");
      const other = add?.inputs.find((input) => input !== node.outputs[0]);
      bias = other === undefined ? null : (model.constant(other) ?? null);
    }
    layers.push({
      name: weight.name,
      node: node.name,
      op: node.opType,
      shape: weight.shape,
      weight: onnxTensor(weight),
      bias: bias === null ? null : onnxTensor(bias),
      order: node.index,
    });
  }
  const batchNorms = model.nodes
    .filter((node) => node.opType === "BatchNormalization" && node.domain === "")
    .map((node) => {
      const parameters = node.inputs.slice(1, 5).map((input) => model.constant(input)?.name ?? input);
      return { name: onnxLayerName(node, parameters), parameters: [node.name, ...parameters] };
    });
  return { path, kind: "onnx", layers, batchNorms };
}

/** The folded model (`--folded`): a state_dict-like file or an ONNX model. */
export function readFoldedModel(path: string): FoldedModel {
  return isOnnxPath(path) ? readFoldedOnnx(path) : readFoldedStateDict(path);
}
