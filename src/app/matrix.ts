/**
 * `bn-check matrix`: BatchNorm of one logical tensor under every preset (the same channel axis for
 * all, so layouts are aligned), compared pairwise, with the convention details that explain each
 * difference derived from the resolved parameters — not from a hand-written table.
 */
import { ESTIMATOR_FORMULAS, runningVarianceEstimator } from "../conventions/alternatives.js";
import { conventions, type FrameworkName } from "../conventions/index.js";
import { type BatchNormParams, epsilonRaised, type Mode, sameHyperparameter } from "../conventions/resolve.js";
import { batchNorm, type BatchNormResult } from "../check/batch-norm.js";
import { type CheckTensors, checkBatchNorm } from "../check/check.js";
import { tensorLoader } from "../io/read-tensor.js";
import type { LayoutName } from "../core/layout.js";
import type { FloatDType, Tensor } from "../core/tensor.js";
import { ulpDistance } from "../core/formats.js";
import type { ExecutionOptions } from "../parallel/executor.js";
import type { FileInfo, MatrixPair, MatrixReport } from "./reports.js";
import { reportHead } from "./version.js";
import { exitCodeOf } from "./exit-code.js";
import { UsageError } from "../core/errors.js";
import { formatNumber } from "../core/format.js";
import { inOwnArena } from "../core/arena.js";
import { nowMs } from "../core/clock.js";

/** Every preset once (`keras` is an alias of `tf`). */
export const MATRIX_PRESETS = ["torch", "tf", "keras3", "tf-nn", "onnx", "flax"] as const;

export interface MatrixOptions {
  readonly input: string;
  readonly mode: Mode;
  readonly layout?: LayoutName;
  readonly channelAxis?: number;
  readonly weight?: string;
  readonly bias?: string;
  readonly runningMean?: string;
  readonly runningVar?: string;
  readonly ref?: string;
  readonly execution: ExecutionOptions;
}

interface Row {
  readonly name: string;
  readonly output: ArrayLike<number>;
  readonly runningMean: Float64Array | null;
  readonly runningVar: Float64Array | null;
  readonly params: BatchNormParams | null;
}

function maxAbsAndUlp(a: ArrayLike<number>, b: ArrayLike<number>, dtype: FloatDType): { abs: number; ulp: number } {
  let abs = 0;
  let ulp = 0;
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs(a[i] - b[i]);
    if (difference > abs || Number.isNaN(difference)) abs = Number.isNaN(difference) ? Infinity : difference;
    if (Number.isFinite(a[i]) && Number.isFinite(b[i])) ulp = Math.max(ulp, ulpDistance(dtype, a[i], b[i]));
  }
  return { abs, ulp };
}

function maxAbs(a: Float64Array | null, b: Float64Array | null): number | null {
  return a === null || b === null ? null : maxAbsAndUlp(a, b, "float64").abs;
}

function momentumText(params: BatchNormParams): string {
  if (!params.hasRunningStats) return "none (stateless)";
  return `new batch weighted ${Number(params.batchWeight.toPrecision(6))}`;
}

/** The convention details that differ between two presets, as sentences. */
export function conventionCauses(a: BatchNormParams, b: BatchNormParams, mode: Mode): string[] {
  const causes: string[] = [];
  if (!sameHyperparameter(a.epsilon, b.epsilon)) {
    const describe = (p: BatchNormParams) =>
      epsilonRaised(p)
        ? `${formatNumber(p.epsilon)} (${formatNumber(p.requestedEpsilon)} ` +
          `raised to the ${p.conventionId} ${p.variant} floor)`
        : formatNumber(p.epsilon);
    causes.push(`eps: ${a.conventionId} ${describe(a)} vs ${b.conventionId} ${describe(b)}`);
  }
  if (mode === "train") {
    if (a.hasRunningStats !== b.hasRunningStats) {
      causes.push(`running statistics: ${(a.hasRunningStats ? b : a).conventionId} keeps none`);
    } else if (a.hasRunningStats) {
      // 1 − 0.9 is not exactly 0.1 in binary, and ONNX's 0.9 is a float32: the same weight written
      // in these ways is the same convention.
      if (!sameHyperparameter(a.runningWeight, b.runningWeight)) {
        causes.push(
          `momentum: ${a.conventionId} weights the new batch by ${Number(a.batchWeight.toPrecision(6))}, ` +
            `${b.conventionId} by ${Number(b.batchWeight.toPrecision(6))}`,
        );
      }
      if (a.runningVarCorrection !== b.runningVarCorrection) {
        const estimator = (p: BatchNormParams) =>
          `${p.conventionId} ${runningVarianceEstimator(p)} ` +
          `${ESTIMATOR_FORMULAS[runningVarianceEstimator(p) ?? "biased"]}`;
        causes.push(`running var: ${estimator(a)} vs ${estimator(b)}`);
      }
    }
  }
  return causes;
}

/** Runs in a tensor arena of its own (see src/core/arena.ts): its tensors go when it is done. */
/** The reference judged under one preset as compare judges it: the default tolerance, or the error model's bound. */
async function referenceVerdict(
  preset: string,
  tensors: CheckTensors & { readonly reference: Tensor },
  options: MatrixOptions,
  channelAxis: number | undefined,
): Promise<string> {
  const check = (
    await checkBatchNorm(tensors, {
      ...options.execution,
      framework: preset as FrameworkName,
      mode: options.mode,
      layout: options.layout,
      channelAxis,
    })
  ).output;
  const within =
    check.verdict === "conforms within arithmetic"
      ? ` within ${check.bound?.computeDtype} arithmetic (${check.flatMismatches} ` +
        `elements outside the default tolerance, inside the error model's bound)`
      : ` within the default tolerance (${check.tolerance.source})`;
  return check.passed
    ? `ref agrees with ${preset}${within}`
    : `ref differs from ${preset}: ${check.mismatches} / ${check.count} ` +
        `elements outside the default tolerance and the error model's bound`;
}

export const runMatrix = inOwnArena(async function runMatrix(options: MatrixOptions): Promise<MatrixReport> {
  const started = nowMs();
  const files: FileInfo[] = [];
  const load = tensorLoader(files);
  const input = load("input", options.input) as Tensor;
  const tensors = {
    input,
    weight: load("weight", options.weight),
    bias: load("bias", options.bias),
    runningMean: load("running mean", options.runningMean),
    runningVar: load("running var", options.runningVar),
  };
  const reference = load("reference", options.ref);
  // One channel axis for every preset, so that all of them normalise the same logical tensor.
  const channelAxis = options.layout === undefined ? (options.channelAxis ?? 1) : undefined;
  const rows: Row[] = [];
  let threads = 1;
  let last: BatchNormResult | null = null;
  for (const name of MATRIX_PRESETS) {
    const result = await batchNorm(tensors, {
      ...options.execution,
      framework: name,
      mode: options.mode,
      layout: options.layout,
      channelAxis,
      outputDtype: "float64",
    });
    rows.push({
      name,
      output: result.output.data,
      runningMean: result.runningMean,
      runningVar: result.runningVar,
      params: result.params,
    });
    threads = result.threads;
    last = result;
  }
  if (reference !== undefined) {
    if (reference.shape.join() !== input.shape.join())
      throw new UsageError(
        `${options.ref}: shape [${reference.shape.join(", ")}] differs from the input's [${input.shape.join(", ")}]`,
      );
    rows.push({ name: "ref", output: reference.data, runningMean: null, runningVar: null, params: null });
  }
  const ulpDtype = reference?.dtype ?? input.dtype;
  const pairs: MatrixPair[] = [];
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      const a = rows[i];
      const b = rows[j];
      const output = maxAbsAndUlp(a.output, b.output, ulpDtype);
      const causes = a.params !== null && b.params !== null ? conventionCauses(a.params, b.params, options.mode) : [];
      if (causes.length === 0 && a.params !== null && b.params !== null)
        causes.push("same arithmetic: any difference is rounding");
      if (b.name === "ref" && reference !== undefined)
        causes.push(await referenceVerdict(a.name, { ...tensors, reference }, options, channelAxis));
      pairs.push({
        a: a.name,
        b: b.name,
        outputMaxAbs: output.abs,
        outputMaxUlp: output.ulp,
        runningMeanMaxAbs: maxAbs(a.runningMean, b.runningMean),
        runningVarMaxAbs: maxAbs(a.runningVar, b.runningVar),
        causes,
      });
    }
  }
  return {
    ...reportHead("matrix"),
    exitCode: exitCodeOf({ command: "matrix" }),
    files,
    mode: options.mode,
    layout: last?.params.layout ?? "",
    channelAxis: last?.params.channelAxis ?? 1,
    ulpDtype,
    presets: rows
      .filter((row) => row.params !== null)
      .map((row) => ({
        name: row.name,
        label: conventions[row.name as keyof typeof conventions].label,
        epsilon: row.params!.epsilon,
        momentum: momentumText(row.params!),
        runningVar: runningVarianceEstimator(row.params!) ?? "none",
      })),
    pairs,
    timings: { totalMs: nowMs() - started, threads },
  };
});
