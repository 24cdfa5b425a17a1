/**
 * `bn-check compare`: reads the tensors, checks the reference against BatchNorm under the chosen
 * convention and returns the report (the caller renders it and sets the exit code).
 */
import { conventions, type FrameworkName } from "../../conventions/index.js";
import type { Mode } from "../../conventions/resolve.js";
import { checkBatchNorm } from "../../engine/check.js";
import type { LayoutName } from "../../kernel/layout.js";
import { readNpy } from "../../npy/read-npy.js";
import type { ComputeDType, Tensor } from "../../npy/tensor.js";
import type { InjectedFault } from "../../parallel/task.js";
import { REPORT_SCHEMA_VERSION, type CompareReport, type FileInfo } from "../../report/report.js";
import { VERSION } from "../version.js";

export interface CompareOptions {
  readonly input: string;
  readonly reference: string;
  readonly framework: FrameworkName;
  readonly mode: Mode;
  readonly layout?: LayoutName;
  readonly channelAxis?: number;
  readonly eps?: number;
  readonly momentum?: number | null;
  readonly numBatchesTracked?: number;
  readonly weight?: string;
  readonly bias?: string;
  readonly runningMean?: string;
  readonly runningVar?: string;
  readonly refRunningMean?: string;
  readonly refRunningVar?: string;
  readonly atol?: number;
  readonly rtol?: number;
  readonly equalNan: boolean;
  readonly computeDtype?: ComputeDType;
  readonly threads?: number;
  readonly parallelThreshold?: number;
  readonly injectFault?: InjectedFault;
}

export async function runCompare(options: CompareOptions): Promise<CompareReport> {
  const started = performance.now();
  const files: FileInfo[] = [];
  const load = (role: string, path: string | undefined): Tensor | null => {
    if (path === undefined) return null;
    const tensor = readNpy(path);
    files.push({ role, path, dtype: tensor.dtype, shape: tensor.shape });
    return tensor;
  };
  const input = load("input", options.input) as Tensor;
  const reference = load("reference", options.reference) as Tensor;
  const weight = load("weight", options.weight);
  const bias = load("bias", options.bias);
  const runningMean = load("running mean", options.runningMean);
  const runningVar = load("running var", options.runningVar);
  const referenceRunningMean = load("ref running mean", options.refRunningMean);
  const referenceRunningVar = load("ref running var", options.refRunningVar);
  const readMs = performance.now() - started;

  const result = await checkBatchNorm(
    { input, reference, weight, bias, runningMean, runningVar, referenceRunningMean, referenceRunningVar },
    {
      framework: options.framework,
      mode: options.mode,
      layout: options.layout,
      channelAxis: options.channelAxis,
      epsilon: options.eps,
      momentum: options.momentum,
      numBatchesTracked: options.numBatchesTracked,
      atol: options.atol,
      rtol: options.rtol,
      equalNan: options.equalNan,
      computeDtype: options.computeDtype,
      threads: options.threads,
      parallelThreshold: options.parallelThreshold,
      injectFault: options.injectFault,
    },
  );
  const convention = conventions[options.framework];
  const params = result.params;
  const tensors = [result.output, result.runningMean, result.runningVar].filter((t) => t !== null);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: "bn-check", version: VERSION },
    command: "compare",
    conforms: result.conforms,
    verdict: result.conforms ? "conforms" : "does not conform",
    exitCode: result.conforms ? 0 : 1,
    files,
    convention: {
      framework: options.framework,
      label: convention.label,
      mode: params.mode,
      layout: params.layout,
      channelAxis: params.channelAxis,
      epsilon: params.epsilon,
      requestedEpsilon: params.requestedEpsilon,
      momentum: params.momentum,
      momentumMeaning: convention.momentumWeights === "batch" ? "weight of the new batch statistic" : "weight of the old running value",
      runningVarEstimator: !params.hasRunningStats ? "none" : params.runningVarCorrection === 1 ? "unbiased" : "biased",
      variant: params.variant,
      notes: params.notes,
      sources: convention.sources,
    },
    tensors,
    batchStatistics: result.batchMean === null || result.batchVariance === null ? null : { mean: result.batchMean, variance: result.batchVariance },
    timings: { readMs, statsMs: result.timings.statsMs, compareMs: result.timings.compareMs, totalMs: performance.now() - started, threads: result.threads },
  };
}
