/**
 * Turns a model's files into check cases, one per BatchNorm layer: the layer's parameters from the
 * state before the call, its input and output from the activations dump, and (train mode) its
 * running statistics after the call from `--ref-params`. A layer whose tensors are missing becomes a
 * case that reports why: listed, never skipped.
 */
import type { CheckCase, TensorTolerance, TensorTolerances } from "../cases/case.js";
import type { CaseFiles } from "../cases/case.js";
import { globMatcher } from "../cases/glob.js";
import type { FrameworkName } from "../../conventions/index.js";
import type { Mode } from "../../conventions/resolve.js";
import { BnCheckError, InputFileError, UsageError } from "../../core/errors.js";
import type { TensorArchive } from "../../io/archive.js";
import { ARCHIVE_FORMATS, archiveFormatOf, openTensorArchive } from "../../io/archive-formats.js";
import type { LayoutName } from "../../core/layout.js";
import type { ComputeDType } from "../../core/tensor.js";
import { listSome } from "../../core/format.js";
import { type BatchNormLayer, findBatchNormLayers, type ParameterNaming } from "./bn-layers.js";
import { readLayerOptions } from "./layer-options.js";

export interface ModelSource {
  readonly params: string;
  readonly activations: string;
  /** The parameters after the call (train mode: the running statistics to check). */
  readonly refParams?: string;
  /** Activation keys, `{layer}` standing for the layer's name. */
  readonly inputKey: string;
  readonly outputKey: string;
  /** Only the layers whose names match this glob. */
  readonly layers?: string;
  /** Per-layer eps and momentum (layer-options.ts). */
  readonly layerOptions?: string;
}

/** What every layer is checked under (a model's definition fixes these for all its layers). */
export interface ModelJudging {
  readonly framework?: FrameworkName;
  readonly mode: Mode;
  readonly layout?: LayoutName;
  readonly channelAxis?: number;
  readonly eps?: number;
  readonly momentum?: number | null;
  readonly computeDtype?: ComputeDType;
  readonly strict?: boolean;
  readonly allChannels?: boolean;
  readonly tolerance?: TensorTolerance;
  readonly tolerances?: TensorTolerances;
}

export interface ModelPlan {
  readonly naming: ParameterNaming;
  readonly layersFound: number;
  readonly cases: readonly CheckCase[];
}

export const DEFAULT_INPUT_KEY = "{layer}.input";
export const DEFAULT_OUTPUT_KEY = "{layer}.output";

function openArchive(path: string, option: string): TensorArchive {
  if (archiveFormatOf(path) === undefined) {
    const extensions = ARCHIVE_FORMATS.flatMap((format) => format.extensions).join(", ");
    throw new InputFileError(path, `${option} takes a file of named tensors (${extensions})`);
  }
  return openTensorArchive(path);
}

function keyFor(template: string, layer: string): string {
  return template.replaceAll("{layer}", layer);
}

/** @throws UsageError/InputFileError when the files hold no layer to check (nothing can be run). */
export function planModel(source: ModelSource, judging: ModelJudging): ModelPlan {
  for (const [option, template] of [
    ["--input-key", source.inputKey],
    ["--output-key", source.outputKey],
  ] as const) {
    if (!template.includes("{layer}"))
      throw new UsageError(`${option} '${template}' has no {layer} in it: every layer would read the same tensor`);
  }
  if (source.refParams !== undefined && judging.mode !== "train")
    throw new UsageError("--ref-params checks the running statistics a train-mode call updates: give --mode train");
  const params = openArchive(source.params, "--params");
  const activations = openArchive(source.activations, "--activations");
  const after = source.refParams === undefined ? undefined : openArchive(source.refParams, "--ref-params");
  const { naming, layers } = findBatchNormLayers(params.names);
  if (layers.length === 0) {
    throw new InputFileError(
      source.params,
      `holds no BatchNorm layer (no '<layer>.running_mean' with '<layer>.running_var', nor ` +
        `'<layer>/moving_mean' with '<layer>/moving_variance'; it holds ${listSome(params.names)})`,
    );
  }
  const matches = source.layers === undefined ? () => true : globMatcher(source.layers);
  const selected = layers.filter((layer) => matches(layer.name));
  if (selected.length === 0)
    throw new UsageError(
      `--layers '${source.layers}' matches none of the ${layers.length} ` +
        `BatchNorm layers (${listSome(layers.map((layer) => layer.name))})`,
    );
  const framework = judging.framework ?? naming.framework;
  const perLayer =
    source.layerOptions === undefined
      ? undefined
      : readLayerOptions(
          source.layerOptions,
          layers.map((layer) => layer.name),
        );
  const dumpedName = dumpedNames(selected, activations, source);
  const cases = selected.map((layer) => {
    const eps = perLayer?.eps.get(layer.name) ?? judging.eps;
    const momentum = perLayer?.momentum.has(layer.name) ? perLayer.momentum.get(layer.name) : judging.momentum;
    return layerCase(layer, { params, activations, after, dumpedName }, source, {
      ...judging,
      framework,
      eps,
      momentum,
    });
  });
  return { naming, layersFound: layers.length, cases };
}

interface ModelArchives {
  readonly params: TensorArchive;
  readonly activations: TensorArchive;
  readonly after?: TensorArchive;
  /** The name a layer's activations are dumped under (see `dumpedNames`). */
  readonly dumpedName: (layer: string) => string;
}

/**
 * The names the activations use for the layers. Usually the parameters' own; but parameters saved
 * from a wrapped model (`module.` from DataParallel/DDP) or inside a checkpoint (`model.`,
 * `state_dict.`) carry a prefix that hooks on the bare model do not: when no layer's activations
 * are found under the full names and every layer's are found without the prefix all layers share,
 * that prefix is dropped.
 */
function dumpedNames(
  layers: readonly BatchNormLayer[],
  activations: TensorArchive,
  source: ModelSource,
): (layer: string) => string {
  const present = new Set(activations.names);
  const dumped = (name: string) =>
    present.has(keyFor(source.inputKey, name)) && present.has(keyFor(source.outputKey, name));
  if (layers.some((layer) => dumped(layer.name))) return (layer) => layer;
  const first = layers[0].name;
  for (let end = first.indexOf("."); end > 0; end = first.indexOf(".", end + 1)) {
    const prefix = first.slice(0, end + 1);
    if (
      layers.every(
        (layer) =>
          layer.name.startsWith(prefix) && layer.name.length > prefix.length && dumped(layer.name.slice(prefix.length)),
      )
    )
      return (layer) => layer.slice(prefix.length);
  }
  return (layer) => layer;
}

function layerCase(
  layer: BatchNormLayer,
  archives: ModelArchives,
  source: ModelSource,
  judging: ModelJudging & { framework: FrameworkName },
): CheckCase {
  const base: Omit<CheckCase, "files"> = {
    name: layer.name,
    kind: "compare",
    expected: "match",
    framework: judging.framework,
    mode: judging.mode,
    layout: judging.layout,
    channelAxis: judging.channelAxis,
    eps: judging.eps,
    momentum: judging.momentum,
    computeDtype: judging.computeDtype,
    strict: judging.strict,
    allChannels: judging.allChannels,
    tolerance: judging.tolerance,
    tolerances: judging.tolerances,
  };
  const { params, activations, after } = archives;
  const dumped = archives.dumpedName(layer.name);
  const inputKey = keyFor(source.inputKey, dumped);
  const outputKey = keyFor(source.outputKey, dumped);
  const missing = [inputKey, outputKey].filter((key) => !activations.names.includes(key));
  if (missing.length > 0) {
    return {
      ...base,
      files: {},
      loadError:
        `${activations.path}: no ${missing.map((key) => `'${key}'`).join(" or ")} for layer ` +
        `${layer.name} (--input-key/--output-key name the keys; --layers selects layers)`,
    };
  }
  const spec = (archive: TensorArchive, name: string | undefined) =>
    name === undefined ? undefined : `${archive.path}:${name}`;
  const files: CaseFiles = {
    input: spec(activations, inputKey),
    reference: spec(activations, outputKey),
    weight: spec(params, layer.weight),
    bias: spec(params, layer.bias),
    runningMean: spec(params, layer.runningMean),
    runningVar: spec(params, layer.runningVar),
  };
  let numBatchesTracked: number | undefined;
  try {
    // The counter feeds momentum none (a cumulative average): read it only where it is used.
    if (judging.mode === "train" && judging.momentum === null && layer.numBatchesTracked !== undefined)
      numBatchesTracked = params.readInteger(layer.numBatchesTracked);
  } catch (error) {
    if (!(error instanceof BnCheckError)) throw error;
    return { ...base, files, loadError: error.message };
  }
  if (after === undefined) return { ...base, files, numBatchesTracked };
  const absent = [layer.runningMean, layer.runningVar].filter((name) => !after.names.includes(name));
  if (absent.length > 0)
    return {
      ...base,
      files,
      loadError: `${after.path}: no ${absent.map((name) => `'${name}'`).join(" or ")} for layer ${layer.name}`,
    };
  return {
    ...base,
    files: { ...files, refRunningMean: spec(after, layer.runningMean), refRunningVar: spec(after, layer.runningVar) },
    numBatchesTracked,
  };
}

/**
 * For --debug: what `model` reads past in the parameters file — tensors of no BatchNorm layer (conv
 * weights, optimizer state) and entries that hold no tensor (a checkpoint's epoch, args, numpy state).
 */
export function describeSkipped(params: string): string[] {
  const archive = openArchive(params, "--params");
  const { layers } = findBatchNormLayers(archive.names);
  const used = new Set(
    layers.flatMap((layer) => [layer.weight, layer.bias, layer.runningMean, layer.runningVar, layer.numBatchesTracked]),
  );
  const others = archive.names.filter((name) => !used.has(name));
  const lines = [
    `${params}: ${layers.length} BatchNorm layer(s); ${others.length} other ` +
      `tensor(s) not checked${others.length > 0 ? `: ${listSome(others)}` : ""}`,
  ];
  const skipped = archive.skipped ?? [];
  if (skipped.length > 0)
    lines.push(
      `${params}: ${skipped.length} entr${skipped.length === 1 ? "y" : "ies"}` +
        ` that hold no tensor: ${listSome(skipped)}`,
    );
  return lines;
}
