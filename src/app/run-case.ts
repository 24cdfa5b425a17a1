/**
 * Runs one check case (compare, diff, steps, an ONNX node-test folder) and returns its report.
 * Errors are thrown; `suite` turns them into an `error` status, `compare` into exit code 2.
 */
import { compareTensors, worstVerdict, type TensorComparison } from "../check/compare.js";
import { runningVarianceEstimator } from "../conventions/alternatives.js";
import { conventions, type FrameworkName } from "../conventions/index.js";
import type { BatchNormParams } from "../conventions/resolve.js";
import { checkBatchNorm, type CheckRequest, type ConformanceResult } from "../check/check.js";
import { checkSteps } from "../check/steps.js";
import { explainNonConformance } from "../explain/hints.js";
import { explainGradients } from "../explain/gradient-hints.js";
import { BnCheckError, UsageError } from "../core/errors.js";

import { readOnnxNodeTest } from "../io/onnx-node-test.js";
import {
  peekTensor,
  readTensor,
  deferredNpy,
  readTensorsConcurrently,
  tensorFileBytes,
  tensorLoader,
  type RangeFiller,
} from "../io/read-tensor.js";
import { fillOnPool } from "../parallel/fill.js";
import { elementCount, unloadedSource, type Tensor } from "../core/tensor.js";
import { LISTED_CHANNELS } from "../check/compare.js";
import { prewarmFor, type ExecutionOptions } from "../parallel/executor.js";
import type { CaseReport, ConventionInfo, FileInfo, StepsInfo } from "./reports.js";
import type { CaseFiles, CheckCase } from "./cases/case.js";
import { roleOf, TENSOR_FIELDS, type TensorKey } from "./cases/fields.js";
import { inReusedArena } from "../core/arena.js";
import { nowMs } from "../core/clock.js";

/** A case whose definition could not be read (its message names the file). */
class CaseLoadError extends BnCheckError {}

type LoadedTensors = Partial<Record<TensorKey, Tensor>>;

function loadFiles(files: CaseFiles, info: FileInfo[], preloaded: ReadonlyMap<string, Tensor>): LoadedTensors {
  const load = tensorLoader(info, preloaded);
  const loaded: LoadedTensors = {};
  for (const field of TENSOR_FIELDS) loaded[field.key] = load(field.role, files[field.key]);
  return loaded;
}

/** The convention as the report states it. */
export function conventionInfo(framework: string, params: BatchNormParams): ConventionInfo {
  const convention = conventions[framework as keyof typeof conventions];
  return {
    framework,
    label: convention.label,
    mode: params.mode,
    layout: params.layout,
    channelAxis: params.channelAxis,
    epsilon: params.epsilon,
    requestedEpsilon: params.requestedEpsilon,
    momentum: params.momentum,
    momentumMeaning:
      convention.momentumWeights === "batch" ? "weight of the new batch statistic" : "weight of the old running value",
    runningVarEstimator: runningVarianceEstimator(params) ?? "none",
    variant: params.variant,
    notes: params.notes,
    sources: convention.sources,
  };
}

function statusOf(expected: "match" | "mismatch", conforms: boolean): "pass" | "fail" {
  return conforms === (expected === "match") ? "pass" : "fail";
}

/** A case's tensors as read, the files they came from, and the convention settings they state. */
interface LoadedCase {
  readonly tensors: LoadedTensors;
  readonly files: FileInfo[];
  readonly framework: FrameworkName;
  readonly mode: CheckCase["mode"];
  readonly epsilon: number | undefined;
  readonly momentum: CheckCase["momentum"];
  /** Chunks of the input and reference files each thread copied, when the pool read them. */
  readonly readUnitsByThread?: readonly number[];
}

/** An ONNX backend node test: its tensors, and the attributes the node states where the case does not. */
function loadOnnxNodeTest(check: CheckCase, folder: string): LoadedCase {
  const test = readOnnxNodeTest(folder);
  return {
    files: test.files.map((f) => ({ role: f.role, path: f.path, dtype: f.tensor.dtype, shape: f.tensor.shape })),
    tensors: {
      input: test.input,
      reference: test.reference,
      weight: test.weight ?? undefined,
      bias: test.bias ?? undefined,
      runningMean: test.runningMean ?? undefined,
      runningVar: test.runningVar ?? undefined,
      refRunningMean: test.referenceRunningMean ?? undefined,
      refRunningVar: test.referenceRunningVar ?? undefined,
    },
    framework: check.framework ?? "onnx",
    mode: check.mode ?? (test.trainingMode ? "train" : "eval"),
    epsilon: check.eps ?? test.epsilon,
    momentum: check.momentum === undefined ? test.momentum : check.momentum,
  };
}

/**
 * Whether a case's input and reference output can stay in their files, for the statistics and
 * compare passes to stream (parallel/stream.ts): a compare of one forward call, which reads each of
 * them once or twice (gradients, a diff and training steps read them otherwise). Whatever else needs
 * their values (a hint) reads them then.
 */
function streamsTensors(check: CheckCase): boolean {
  return (
    check.kind === "compare" &&
    !check.steps &&
    check.files.input !== undefined &&
    check.files.reference !== undefined &&
    check.files.gradOutput === undefined
  );
}

/**
 * The smallest tensor a compare streams. Below it, reading the tensor whole costs less than a
 * streamed pass's slots, and less than reopening its file for each value the report quotes (some
 * twenty for a conforming compare).
 */
const STREAM_MIN_BYTES = 1 << 20;

/**
 * The input and reference: left in their files where the passes can stream them (`defer`, and a
 * plain .npy file: io's `deferredNpy`), the others read side by side.
 */
async function readOrDefer(
  specs: readonly (string | undefined)[],
  defer: boolean,
  fill: RangeFiller,
): Promise<(Tensor | undefined)[]> {
  const deferred = specs.map((spec) => {
    // A file smaller than the threshold holds less data: no need to read its header here too.
    if (!defer || spec === undefined || tensorFileBytes(spec) < STREAM_MIN_BYTES) return null;
    const tensor = deferredNpy(spec);
    // (Not tensor.data: that would read it.)
    return tensor !== null && (tensor.dtype === "float64" ? 8 : 4) * elementCount(tensor.shape) >= STREAM_MIN_BYTES
      ? tensor
      : null;
  });
  const read = await readTensorsConcurrently(
    specs.map((spec, k) => (deferred[k] === null ? spec : undefined)),
    fill,
  );
  return specs.map((_, k) => deferred[k] ?? read[k]);
}

/** A case's tensor files: the two large ones side by side, the others after. */
async function loadCaseFiles(check: CheckCase, execution: ExecutionOptions): Promise<LoadedCase> {
  // Large input: start the workers now, so that they boot while the files are read.
  if (check.files.input !== undefined) prewarmFor(tensorFileBytes(check.files.input) / 4, execution);
  // A reference whose header already says it cannot match the input (another element count) is not
  // read: its dtype and shape are all the shape-mismatch report needs (a member that claims 2 GiB
  // against a 48-element input took 44 s and 4 GB to read).
  const inputHead = peekTensor(check.files.input);
  const referenceHead = peekTensor(check.files.reference);
  const unmatched =
    inputHead !== undefined &&
    referenceHead !== undefined &&
    elementCount(inputHead.shape) !== elementCount(referenceHead.shape);
  // diff needs neither tensor's data then; compare still computes BatchNorm of its input.
  let readUnitsByThread: readonly number[] | undefined;
  const fill: RangeFiller = (ranges) =>
    fillOnPool(ranges, execution)?.then((result) => {
      readUnitsByThread = result.unitsByThread;
      return result;
    }) ?? null;
  const [input, reference] = unmatched
    ? [
        check.kind === "diff" ? shapeOnly(inputHead) : (await readTensorsConcurrently([check.files.input], fill))[0],
        shapeOnly(referenceHead),
      ]
    : await readOrDefer([check.files.input, check.files.reference], streamsTensors(check), fill);
  const preloaded = new Map<string, Tensor>();
  if (input !== undefined) preloaded.set(roleOf("input"), input);
  if (reference !== undefined) preloaded.set(roleOf("reference"), reference);
  const files: FileInfo[] = [];
  const tensors = loadFiles(check.files, files, preloaded);
  return {
    tensors,
    files,
    framework: check.framework ?? "torch",
    mode: check.mode,
    epsilon: check.eps,
    momentum: check.momentum,
    readUnitsByThread,
  };
}

/** The report fields every case has, from its check and outcome. */
function caseHead(check: CheckCase, conforms: boolean) {
  return {
    name: check.name,
    kind: check.kind,
    expected: check.expected,
    status: statusOf(check.expected, conforms),
    conforms,
  };
}

/** `diff`: two tensors compared element by element, no BatchNorm. */
function diffCase(
  check: CheckCase,
  loaded: LoadedCase,
  reference: Tensor,
  started: number,
  readMs: number,
): CaseReport {
  const actual = loaded.tensors.input;
  if (actual === undefined) throw new UsageError(`case ${check.name}: diff needs two tensors`);
  const compareStarted = nowMs();
  const outputTolerance = { ...check.tolerance, ...check.tolerances?.output };
  const comparison = compareTensors(actual, reference, {
    ...outputTolerance,
    computeDtype: check.computeDtype,
    channelAxis: check.channelAxis,
    name: "tensor",
  });
  return {
    ...caseHead(check, comparison.passed),
    verdict: comparison.verdict,
    error: null,
    files: loaded.files,
    convention: null,
    tensors: [comparison],
    batchStatistics: null,
    steps: null,
    hints: [],
    timings: {
      readMs,
      statsMs: 0,
      compareMs: nowMs() - compareStarted,
      totalMs: nowMs() - started,
      threads: 1,
    },
  };
}

/** The check request of a case: its convention, tolerances per tensor, and how to run. */
function requestFor(check: CheckCase, loaded: LoadedCase, execution: ExecutionOptions): CheckRequest {
  const outputTolerance = { ...check.tolerance, ...check.tolerances?.output };
  return {
    ...execution,
    framework: loaded.framework,
    mode: loaded.mode,
    layout: check.layout,
    channelAxis: check.channelAxis,
    epsilon: loaded.epsilon,
    momentum: loaded.momentum,
    numBatchesTracked: check.numBatchesTracked,
    atol: outputTolerance.atol,
    rtol: outputTolerance.rtol,
    equalNan: outputTolerance.equalNan,
    computeDtype: check.computeDtype,
    strict: check.strict,
    allChannels: check.allChannels,
    runningMeanTolerance: { ...check.tolerance, ...check.tolerances?.running_mean },
    runningVarTolerance: { ...check.tolerance, ...check.tolerances?.running_var },
    gradientTolerances: {
      grad_input: { ...check.tolerance, ...check.tolerances?.grad_input },
      grad_weight: { ...check.tolerance, ...check.tolerances?.grad_weight },
      grad_bias: { ...check.tolerance, ...check.tolerances?.grad_bias },
    },
  };
}

/** A case's files under the names the check takes them by. */
function checkTensorsOf(tensors: LoadedTensors, input: Tensor) {
  return {
    input,
    reference: tensors.reference,
    weight: tensors.weight,
    bias: tensors.bias,
    runningMean: tensors.runningMean,
    runningVar: tensors.runningVar,
    referenceRunningMean: tensors.refRunningMean,
    referenceRunningVar: tensors.refRunningVar,
    gradOutput: tensors.gradOutput,
    referenceGradInput: tensors.refGradInput,
    referenceGradWeight: tensors.refGradWeight,
    referenceGradBias: tensors.refGradBias,
  };
}

/** What a compare case found: the tensors compared, the check's result, and the case-level findings. */
interface CaseOutcome {
  readonly comparisons: readonly TensorComparison[];
  readonly conforms: boolean;
  readonly result: ConformanceResult;
  readonly steps: StepsInfo | null;
  readonly hints: string[];
  readonly statsMs: number;
  readonly compareMs: number;
}

/** Training steps, one BatchNorm call each, checked in order. */
async function checkCaseSteps(
  check: CheckCase,
  tensors: LoadedTensors,
  checkTensors: ReturnType<typeof checkTensorsOf>,
  request: CheckRequest,
): Promise<CaseOutcome> {
  if (checkTensors.gradOutput !== undefined)
    throw new UsageError("--steps checks forward passes only: gradients are checked for one call");
  const reference = checkTensors.reference;
  if (reference === undefined)
    throw new UsageError(`case ${check.name}: --steps needs the reference output of every step`);
  const stepped = await checkSteps(
    {
      ...checkTensors,
      reference,
      referenceRunningMeanSteps: tensors.refRunningMeanSteps,
      referenceRunningVarSteps: tensors.refRunningVarSteps,
    },
    request,
  );
  return {
    comparisons: stepped.tensors,
    conforms: stepped.conforms,
    result: stepped.last,
    steps: { count: stepped.steps, firstDivergentStep: stepped.firstDivergentStep },
    hints: [],
    statsMs: stepped.statsMs,
    compareMs: stepped.compareMs,
  };
}

/**
 * The check's tensors with those still in their files read whole (hints walk their values and check
 * them under other conventions): here, in the case's arena and outside any check's, so that those
 * checks run on the SIMD kernel.
 */
function inMemory<T extends { readonly input: Tensor; readonly reference?: Tensor }>(tensors: T): T {
  const whole = (tensor: Tensor) => {
    const deferred = unloadedSource(tensor);
    return deferred === null ? tensor : readTensor(deferred.source.path);
  };
  return {
    ...tensors,
    input: whole(tensors.input),
    reference: tensors.reference === undefined ? undefined : whole(tensors.reference),
  };
}

/** One BatchNorm call checked, with hints when it surprises (a case expected to match that does not). */
async function checkCaseCall(
  check: CheckCase,
  checkTensors: ReturnType<typeof checkTensorsOf>,
  request: CheckRequest,
): Promise<CaseOutcome> {
  const result = await checkBatchNorm(checkTensors, request);
  let hints: string[] = [];
  // Expected mismatches (fault cases) need no explanation; a surprise does.
  if (result.output?.passed === false && check.expected === "match")
    hints = await explainNonConformance(inMemory(checkTensors), request, result);
  if (check.expected === "match") hints.push(...(await explainGradients(checkTensors, request, result)));
  return {
    comparisons: [
      result.output,
      result.runningMean,
      result.runningVar,
      result.gradInput,
      result.gradWeight,
      result.gradBias,
    ].filter((t): t is TensorComparison => t !== null),
    conforms: result.conforms,
    result,
    steps: null,
    hints,
    statsMs: result.timings.statsMs,
    compareMs: result.timings.compareMs,
  };
}

/**
 * Runs in a tensor arena (see src/core/arena.ts) that the next case reuses: a case returns a
 * report of numbers and strings, never a tensor.
 */
export const runCase = inReusedArena(async function runCase(
  check: CheckCase,
  execution: ExecutionOptions,
): Promise<CaseReport> {
  if (check.loadError !== undefined) throw new CaseLoadError(check.loadError);
  const started = nowMs();
  const loaded =
    check.onnxNodeTest !== undefined
      ? loadOnnxNodeTest(check, check.onnxNodeTest)
      : await loadCaseFiles(check, execution);
  const readMs = nowMs() - started;
  const { tensors } = loaded;
  const reference = tensors.reference;
  // Gradient references alone are a check of their own; anything else needs the output's reference.
  if (reference === undefined && (check.kind === "diff" || tensors.gradOutput === undefined)) {
    throw new UsageError(
      `${check.name}: nothing to check: give the reference output, or --grad-output with gradient references`,
    );
  }
  if (check.kind === "diff") return diffCase(check, loaded, reference!, started, readMs);

  if (tensors.input === undefined) throw new UsageError(`case ${check.name}: no input tensor`);
  const request = requestFor(check, loaded, execution);
  const checkTensors = checkTensorsOf(tensors, tensors.input);
  const outcome = check.steps
    ? await checkCaseSteps(check, tensors, checkTensors, request)
    : await checkCaseCall(check, checkTensors, request);
  const { result } = outcome;
  return {
    ...caseHead(check, outcome.conforms),
    kind: "compare",
    verdict: worstVerdict(outcome.comparisons.map((t) => t.verdict)),
    error: null,
    files: loaded.files,
    convention: conventionInfo(loaded.framework, result.params),
    tensors: outcome.comparisons,
    batchStatistics: listedBatchStatistics(result.batchMean, result.batchVariance, check.allChannels === true),
    steps: outcome.steps,
    hints: outcome.hints,
    timings: {
      readMs,
      statsMs: outcome.statsMs,
      compareMs: outcome.compareMs,
      totalMs: nowMs() - started,
      threads: threadsWithRead(result.threads, loaded.readUnitsByThread),
      kernels: result.timings.kernels,
      unitsByThread:
        loaded.readUnitsByThread === undefined
          ? result.timings.unitsByThread
          : { read: loaded.readUnitsByThread, ...result.timings.unitsByThread },
    },
  };
});

/** Threads that did work: in the passes, or in reading the files when the pool shared that. */
function threadsWithRead(threads: number, read: readonly number[] | undefined): number {
  return read === undefined ? threads : Math.max(threads, read.filter((units) => units > 0).length);
}

/** A tensor of which only the header was read: its shape and dtype, no data (a shape mismatch needs no more). */
function shapeOnly(head: { readonly dtype: Tensor["dtype"]; readonly shape: readonly number[] }): Tensor {
  return {
    dtype: head.dtype,
    shape: [...head.shape],
    data: head.dtype === "float64" ? new Float64Array(0) : new Float32Array(0),
  };
}

/**
 * The batch statistics a report carries: every channel's, up to LISTED_CHANNELS channels (or with
 * --all-channels); none beyond, as the per-channel table lists none of those by default either (two
 * numbers for each of 2 million channels made an 80 MB report).
 */
function listedBatchStatistics(
  mean: readonly number[] | null,
  variance: readonly number[] | null,
  allChannels: boolean,
): CaseReport["batchStatistics"] {
  if (mean === null || variance === null) return null;
  if (!allChannels && mean.length > LISTED_CHANNELS) return null;
  return { mean, variance };
}
