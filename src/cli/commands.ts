/**
 * What each command does on the command line: its options turned into app/'s arguments, the app
 * function called (imported when the command runs, so a command loads only what it needs), and its
 * report emitted. Exit codes are main.ts's.
 */
import type { CheckCase } from "../app/cases/case.js";
import { TENSOR_FIELDS, type TensorField, type TensorKey } from "../app/cases/fields.js";
import type { FrameworkName } from "../conventions/index.js";
import type { Mode } from "../conventions/resolve.js";
import type { LayoutName } from "../core/layout.js";
import type { ComputeDType, FloatDType } from "../core/tensor.js";
import { interruption } from "./interruption.js";
import { conventionFields, execution, fileOptions, optionKey, toleranceFields } from "./options.js";
import type {
  CompareCliOptions,
  DetectCliOptions,
  DiffCliOptions,
  FoldCliOptions,
  Handlers,
  MatrixCliOptions,
  ModelCliOptions,
  RunCliOptions,
  SuiteCliOptions,
} from "./program.js";
import { withProgress } from "./progress.js";
import { checkOutputFormats, emit } from "./report-output.js";

/** `compare`: a case built from the positional tensors and the tensor flags. */
async function compareCommand(input: string, reference: string | undefined, options: CompareCliOptions): Promise<void> {
  checkOutputFormats("compare", options, [
    input,
    ...(reference === undefined ? [] : [reference]),
    ...fileOptions(options),
  ]);
  const { weight, bias, ...convention } = conventionFields(options);
  const given = options as unknown as Record<string, string | undefined>;
  const files: Partial<Record<TensorKey, string>> = { input, reference, weight, bias };
  for (const field of TENSOR_FIELDS as readonly TensorField[]) {
    if (field.flag === null || files[field.key as TensorKey] !== undefined) continue;
    files[field.key as TensorKey] =
      given[field.key] ?? (field.alias === undefined ? undefined : given[optionKey(field.alias)]);
  }
  const check: CheckCase = {
    name: reference ?? input,
    kind: "compare",
    expected: "match",
    files,
    ...convention,
    ...toleranceFields(options),
  };
  const { runCompare } = await import("../app/compare.js");
  await emit(await runCompare(check, execution(options)), options);
}

/** `diff`: two tensors, no BatchNorm. */
async function diffCommand(a: string, b: string, options: DiffCliOptions): Promise<void> {
  checkOutputFormats("diff", options, [a, b]);
  const { runCompare } = await import("../app/compare.js");
  const check: CheckCase = {
    name: b,
    kind: "diff",
    expected: "match",
    files: { input: a, reference: b },
    channelAxis: options.channelAxis,
    ...toleranceFields(options),
  };
  await emit(await runCompare(check, execution(options)), options);
}

/** `run`: BatchNorm written to files. */
async function runCommand(input: string, options: RunCliOptions): Promise<void> {
  checkOutputFormats("run", options, [input, ...fileOptions(options)]);
  const { weight, bias, framework, momentum, steps, ...rest } = conventionFields(options);
  const { runRun } = await import("../app/run.js");
  const report = await runRun({
    input,
    output: options.output,
    dtype: options.dtype as FloatDType | undefined,
    force: options.force === true,
    saveRunningMean: options.saveRunningMean,
    saveRunningVar: options.saveRunningVar,
    gradOutput: options.gradOutput,
    saveGradInput: options.saveGradInput,
    saveGradWeight: options.saveGradWeight,
    saveGradBias: options.saveGradBias,
    steps,
    files: { weight, bias, runningMean: options.runningMean, runningVar: options.runningVar },
    request: { ...execution(options), ...rest, epsilon: rest.eps, framework, momentum },
  });
  await emit(report, options);
}

/** `matrix`: every preset on one input. */
async function matrixCommand(input: string, options: MatrixCliOptions): Promise<void> {
  checkOutputFormats("matrix", options, [input, ...fileOptions(options)]);
  const { runMatrix } = await import("../app/matrix.js");
  const report = await runMatrix({
    input,
    mode: options.mode as Mode,
    layout: options.layout as LayoutName | undefined,
    channelAxis: options.channelAxis,
    weight: options.weight,
    bias: options.bias,
    runningMean: options.runningMean,
    runningVar: options.runningVar,
    ref: options.ref,
    execution: execution(options),
  });
  await emit(report, options);
}

/** `detect`: the convention search; the flags given say what the user believed. */
async function detectCommand(input: string, reference: string, options: DetectCliOptions): Promise<void> {
  checkOutputFormats("detect", options, [input, reference, ...fileOptions(options)]);
  const axis = options.channelAxis;
  const { runDetect } = await import("../app/detect.js");
  const report = await runDetect({
    input,
    reference,
    // The options carry the tensor files under the keys DetectFiles names.
    files: options,
    claimed: {
      framework: options.framework as FrameworkName | undefined,
      mode: options.mode as Mode | undefined,
      channelAxis: axis,
      epsilon: options.eps,
      momentum: typeof options.momentum === "number" ? options.momentum : undefined,
    },
    execution: execution(options),
    tolerance: {
      atol: options.atol,
      rtol: options.rtol,
      computeDtype: options.computeDtype as ComputeDType | undefined,
      strict: options.strict === true,
    },
  });
  await emit(report, options);
}

/** `suite`: many cases with a progress bar. */
async function suiteCommand(source: string, options: SuiteCliOptions): Promise<void> {
  checkOutputFormats("suite", options, [source]);
  const { runSuite } = await import("../app/suite.js");
  await withProgress("suite", options, async (onProgress) =>
    runSuite({
      source,
      shard: options.shard,
      filter: options.filter,
      strict: options.strict === true,
      defaultTolerances: options.defaultTolerances === true,
      execution: execution(options),
      signal: interruption.signal,
      onProgress,
    }),
  );
}

/** `fold`: a fold judged layer by layer. */
async function foldCommand(options: FoldCliOptions): Promise<void> {
  checkOutputFormats("fold", options, [options.params, options.folded, options.layerOptions]);
  const { checkFold } = await import("../app/fold/fold.js");
  const report = await checkFold({
    params: options.params,
    folded: options.folded,
    framework: options.framework as FrameworkName | undefined,
    eps: options.eps,
    layers: options.layers,
    layerOptions: options.layerOptions,
    atol: options.atol,
    rtol: options.rtol,
    strict: options.strict === true,
  });
  await emit(report, options);
}

/** `model`: every BatchNorm layer, with `--debug` listing what was not checked. */
async function modelCommand(options: ModelCliOptions, debug: boolean): Promise<void> {
  checkOutputFormats("model", options, [options.params, options.activations, options.refParams, options.layerOptions]);
  if (debug) {
    const { describeSkipped } = await import("../app/model/model-cases.js");
    for (const line of describeSkipped(options.params)) process.stderr.write(`bn-check: debug: ${line}\n`);
  }
  const { runModel } = await import("../app/model/model.js");
  const tolerance = toleranceFields(options);
  await withProgress("model", options, async (onProgress) =>
    runModel({
      source: {
        params: options.params,
        activations: options.activations,
        refParams: options.refParams,
        inputKey: options.inputKey,
        outputKey: options.outputKey,
        layers: options.layers,
        layerOptions: options.layerOptions,
      },
      judging: {
        framework: options.framework as FrameworkName | undefined,
        mode: options.mode as Mode,
        layout: options.layout as LayoutName | undefined,
        channelAxis: options.channelAxis,
        eps: options.eps,
        momentum: options.momentum === "none" ? null : options.momentum,
        ...tolerance,
      },
      execution: execution(options),
      signal: interruption.signal,
      onProgress,
    }),
  );
}

/** The handlers buildProgram calls; `debug` adds model's list of what it did not check. */
export function commandHandlers(debug: boolean): Handlers {
  return {
    compare: compareCommand,
    diff: diffCommand,
    run: runCommand,
    matrix: matrixCommand,
    detect: detectCommand,
    suite: suiteCommand,
    fold: foldCommand,
    model: (options) => modelCommand(options, debug),
  };
}
