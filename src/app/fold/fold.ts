/**
 * `bn-check fold` as a function: every BatchNorm of the unfused model paired with its folded
 * counterpart, judged against the fold recomputed in float64, and explained when it fails. Returns
 * the report; the CLI prints it and turns it into an exit code.
 */
import { globMatcher } from "../cases/glob.js";
import {
  FOLD_PRECISIONS,
  type FlatTolerance,
  type FoldTensorCheck,
  impliedScale,
} from "../../check/fold/fold-arithmetic.js";
import { type FoldLayer, readFoldedModel, readUnfusedModel } from "./fold-sources.js";
import { type FoldJudging, type FoldNumbers, type FoldedNumbers, judgeReadings } from "../../check/fold/judge-fold.js";
import { type FoldPairing, pairFoldedLayers } from "../../check/fold/pair-fold.js";
import { resolveTolerance } from "../../check/tolerance.js";
import { conventions, type FrameworkName } from "../../conventions/index.js";
import { UsageError } from "../../core/errors.js";
import { explainFold } from "../../explain/fold-causes.js";
import { readLayerOptions } from "../model/layer-options.js";
import { type ComputeDType, type Tensor, unravelIndex } from "../../core/tensor.js";
import { formatNumber, listSome } from "../../core/format.js";
import { exitCodeOf } from "../exit-code.js";
import type { FoldLayerReport, FoldReport, FoldTensorFigures } from "../reports.js";
import { reportHead } from "../version.js";
import { nowMs } from "../../core/clock.js";

export interface FoldOptions {
  /** The unfused parameters (a state_dict-like file, or an ONNX model with BatchNormalization nodes). */
  readonly params: string;
  /** The folded parameters (a state_dict-like file, or an ONNX model). */
  readonly folded: string;
  /** Whose default eps applies where the files state none (torch: 1e-5, keras: 1e-3). */
  readonly framework?: FrameworkName;
  /** eps of every layer (over an ONNX node's attribute). */
  readonly eps?: number;
  /** Per-layer eps (`model --layer-options` format). */
  readonly layerOptions?: string;
  /** Only the layers whose names match this glob. */
  readonly layers?: string;
  readonly atol?: number;
  readonly rtol?: number;
  /** Judge by the flat tolerance alone (torch.testing's defaults for the dtype unless given). */
  readonly strict?: boolean;
}

/** Channels of the per-channel scale kept in a report (charts of a failing layer). */
const MAX_SCALE_CHANNELS = 1024;

/** Wider-error first: the precision whose rounding a fold between these dtypes cannot beat. */
function foldPrecision(...tensors: Tensor[]): ComputeDType {
  let widest: ComputeDType = "float64";
  for (const tensor of tensors) {
    const precision: ComputeDType = tensor.precision ?? tensor.dtype;
    if (FOLD_PRECISIONS[precision].u > FOLD_PRECISIONS[widest].u) widest = precision;
  }
  return widest;
}

function figures(check: FoldTensorCheck, shape: readonly number[]): FoldTensorFigures {
  return {
    name: check.name,
    elements: check.count,
    failing: check.failing,
    maxAbsError: check.maxAbsError,
    worstRatio: check.worstRatio,
    worstIndex: unravelIndex(check.worstIndex, shape),
    worstChannel: check.worstChannel,
    actual: check.worstActual,
    expected: check.worstExpected,
    allowance: check.worstAllowance,
  };
}

function unjudged(
  layer: FoldLayer,
  epsilon: number,
  cause: string,
  causeKind: string,
  pairedBy: string | null = null,
  folded: string | null = null,
): FoldLayerReport {
  return {
    name: layer.name,
    status: "fail",
    conv: layer.conv,
    op: layer.readings[0]?.op ?? null,
    folded,
    foldedBias: null,
    pairedBy,
    dtype: null,
    epsilon,
    channels: layer.mean.read().shape[0] ?? 0,
    worstRatio: null,
    weight: null,
    bias: null,
    failingChannels: 0,
    cause,
    causeKind,
    scale: null,
  };
}

interface LayerContext {
  readonly judging: Omit<FoldJudging, "precision">;
  readonly batchNormsLeft: ReadonlyMap<string, string>;
}

interface LayerOutcome {
  readonly report: FoldLayerReport;
  /** The eps the fold implies, when another eps is the cause. */
  readonly causeEpsilon?: number;
}

/** The report of a judged layer. */
function layerReport(
  layer: FoldLayer,
  pairing: FoldPairing,
  epsilon: number,
  channels: number,
  judging: FoldJudging,
  judgement: ReturnType<typeof judgeReadings>,
  weightShape: readonly number[],
  failingChannels: number,
  cause: ReturnType<typeof explainFold> | null,
  implied: Float64Array | null,
): FoldLayerReport {
  return {
    name: layer.name,
    status: judgement.conforms ? "pass" : "fail",
    conv: layer.conv,
    op: judgement.reading.op,
    folded: pairing.folded.weight.name,
    foldedBias: pairing.folded.bias?.name ?? null,
    pairedBy: pairing.pairedBy,
    dtype: judging.precision,
    epsilon,
    channels,
    worstRatio: judgement.worstRatio,
    weight: figures(judgement.weight, weightShape),
    bias: figures(judgement.bias, [channels]),
    failingChannels,
    cause: cause?.text ?? null,
    causeKind: cause?.kind ?? null,
    scale:
      implied === null
        ? null
        : {
            expected: Array.from(judgement.expected.scale.subarray(0, MAX_SCALE_CHANNELS)),
            implied: Array.from(implied.subarray(0, MAX_SCALE_CHANNELS)),
          },
  };
}

/** The BatchNorm the folded model still has for this layer, by its name or its parameters' names. */
function batchNormLeft(layer: FoldLayer, context: LayerContext): string | undefined {
  return (
    context.batchNormsLeft.get(layer.name) ??
    [layer.gamma, layer.beta, layer.mean, layer.variance]
      .map((t) => (t === null ? undefined : context.batchNormsLeft.get(t.name)))
      .find((n) => n !== undefined)
  );
}

function checkLayer(
  layer: FoldLayer,
  epsilon: number,
  pairing: FoldPairing | undefined,
  context: LayerContext,
): LayerOutcome {
  const left = batchNormLeft(layer, context);
  if (left !== undefined)
    return {
      report: unjudged(layer, epsilon, `not folded: the folded model still has the BatchNorm (${left})`, "not-folded"),
    };
  if (pairing === undefined)
    return {
      report: unjudged(
        layer,
        epsilon,
        "not found in the folded model: no layer there has its name or is its weight scaled per output channel",
        "not-found",
      ),
    };
  const weight = layer.weight.read();
  const foldedWeight = pairing.folded.weight.read();
  const foldedName = pairing.folded.weight.name;
  if (foldedWeight.shape.join("x") !== weight.shape.join("x")) {
    return {
      report: unjudged(
        layer,
        epsilon,
        `the folded weight has shape [${foldedWeight.shape.join(", ")}]; the layer's is [${weight.shape.join(", ")}]`,
        "shape",
        pairing.pairedBy,
        foldedName,
      ),
    };
  }
  const mean = layer.mean.read();
  const channels = mean.shape[0] ?? 0;
  const vector = (tensor: Tensor | undefined, what: string): ArrayLike<number> | null => {
    if (tensor === undefined) return null;
    if (tensor.data.length !== channels)
      throw new UsageError(`${layer.name}: ${what} has ${tensor.data.length} values for ${channels} channels`);
    return tensor.data;
  };
  const foldedBiasTensor = pairing.folded.bias?.read();
  if (foldedBiasTensor !== undefined && foldedBiasTensor.data.length !== channels) {
    return {
      report: unjudged(
        layer,
        epsilon,
        `the folded bias has ${foldedBiasTensor.data.length} values for ${channels} channels`,
        "shape",
        pairing.pairedBy,
        foldedName,
      ),
    };
  }
  const numbers: FoldNumbers = {
    weight: weight.data,
    weightShape: weight.shape,
    bias: vector(layer.bias?.read(), "the layer's bias"),
    gamma: vector(layer.gamma?.read(), "γ"),
    beta: vector(layer.beta?.read(), "β"),
    mean: mean.data,
    variance: vector(layer.variance.read(), "running_var") as ArrayLike<number>,
    epsilon,
  };
  const folded: FoldedNumbers = { weight: foldedWeight.data, bias: foldedBiasTensor?.data ?? null };
  const judging: FoldJudging = { ...context.judging, precision: foldPrecision(weight, foldedWeight) };
  const judgement = judgeReadings(numbers, folded, layer.readings, judging);
  const failingChannels = Array.from(
    judgement.weight.channelRatios,
    (r, c) => r > 1 || judgement.bias.channelRatios[c] > 1,
  ).filter(Boolean).length;
  const cause = judgement.conforms ? null : explainFold(numbers, folded, judgement, layer.readings, judging);
  const implied = judgement.conforms
    ? null
    : impliedScale(folded.weight, numbers.weight, judgement.expected.channelOf, channels);
  const report = layerReport(
    layer,
    pairing,
    epsilon,
    channels,
    judging,
    judgement,
    weight.shape,
    failingChannels,
    cause,
    implied,
  );
  return { report, causeEpsilon: cause?.epsilon };
}

/** One eps behind every failing layer is said once, for the model. */
function modelFindings(
  cases: readonly FoldLayerReport[],
  epsilonOf: ReadonlyMap<string, number>,
  causes: ReadonlyMap<string, number | undefined>,
): string[] {
  const failing = cases.filter((c) => c.status === "fail");
  if (failing.length < 2) return [];
  const implied = new Set(failing.map((c) => causes.get(c.name)));
  if (implied.size !== 1 || implied.has(undefined)) return [];
  const eps = [...implied][0] as number;
  const own = new Set(failing.map((c) => epsilonOf.get(c.name)));
  const ownText = own.size === 1 ? formatNumber([...own][0] as number) : "another";
  return [
    `every failing layer (${failing.length} of ${cases.length}) was ` +
      `folded with eps ${formatNumber(eps)}; the model's is ${ownText}`,
  ];
}

/** Checks every BatchNorm's fold. @throws InputFileError/UsageError when the files cannot be checked. */
export async function checkFold(options: FoldOptions): Promise<FoldReport> {
  const started = nowMs();
  const unfused = readUnfusedModel(options.params);
  const foldedModel = readFoldedModel(options.folded);
  const readMs = nowMs() - started;
  const matches = options.layers === undefined ? () => true : globMatcher(options.layers);
  const layers = unfused.layers.filter((layer) => matches(layer.name));
  if (layers.length === 0) {
    const all = unfused.layers.map((layer) => layer.name);
    throw new UsageError(
      options.layers === undefined
        ? `${options.params}: no BatchNorm layer follows a convolution or linear layer`
        : `--layers '${options.layers}' matches none of the ${all.length} BatchNorm layers (${listSome(all)})`,
    );
  }
  const perLayer =
    options.layerOptions === undefined
      ? undefined
      : readLayerOptions(
          options.layerOptions,
          unfused.layers.map((layer) => layer.name),
        );
  const frameworkEpsilon = conventions[options.framework ?? unfused.framework].epsilon;
  const epsilonOf = new Map(
    layers.map((layer) => [
      layer.name,
      perLayer?.eps.get(layer.name) ?? options.eps ?? layer.epsilon ?? frameworkEpsilon,
    ]),
  );
  const given = options.atol !== undefined || options.rtol !== undefined;
  const pairs = pairFoldedLayers(layers, foldedModel);
  const batchNormsLeft = new Map<string, string>();
  for (const bn of foldedModel.batchNorms) {
    batchNormsLeft.set(bn.name, bn.name);
    for (const parameter of bn.parameters) batchNormsLeft.set(parameter, bn.name);
  }
  const checkStarted = nowMs();
  const causes = new Map<string, number | undefined>();
  const cases = layers.map((layer) => {
    // A flat tolerance only when asked for: a fold is arithmetic on parameters, and torch's default
    // atol (1e-5) would hide a wrong eps on small weights.
    const weight = layer.weight.read();
    const flat: FlatTolerance | null =
      given || options.strict === true
        ? resolveTolerance(weight.precision ?? weight.dtype, { atol: options.atol, rtol: options.rtol })
        : null;
    const { report, causeEpsilon } = checkLayer(layer, epsilonOf.get(layer.name) as number, pairs.get(layer), {
      judging: { flat, strict: options.strict === true },
      batchNormsLeft,
    });
    if (report.status === "fail") causes.set(layer.name, causeEpsilon);
    return report;
  });
  const failed = cases.filter((c) => c.status === "fail").length;
  const conforms = failed === 0;
  return {
    ...reportHead("fold"),
    exitCode: exitCodeOf({ command: "fold", conforms }),
    conforms,
    params: options.params,
    foldedModel: options.folded,
    summary: {
      layers: cases.length,
      passed: cases.length - failed,
      failed,
      notFoldable: unfused.notFoldable.length,
      convsWithoutBatchNorm: unfused.convsWithoutBatchNorm,
      batchNormsLeft: foldedModel.batchNorms.length,
    },
    findings: modelFindings(cases, epsilonOf, causes),
    notFoldable: unfused.notFoldable,
    cases,
    timings: { readMs, checkMs: nowMs() - checkStarted, totalMs: nowMs() - started, threads: 1 },
  };
}
