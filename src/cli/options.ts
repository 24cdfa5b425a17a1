/** Command-line options turned into what app/ takes: cases' convention and tolerance fields, execution settings. */
import { TENSOR_FIELDS, type TensorField } from "../app/cases/fields.js";
import type { FrameworkName } from "../conventions/index.js";
import type { Mode } from "../conventions/resolve.js";
import { UsageError } from "../core/errors.js";
import type { LayoutName } from "../core/layout.js";
import type { ComputeDType } from "../core/tensor.js";
import type { ExecutionOptions } from "../parallel/executor.js";
import { interruption } from "./interruption.js";
import type { ConventionCliOptions, OutputCliOptions, ToleranceCliOptions } from "./program.js";

export function execution(options: OutputCliOptions): ExecutionOptions {
  return { threads: options.threads, parallelThreshold: options.parallelThreshold, signal: interruption.signal };
}

/** Convention fields shared by compare, run and suite cases. */
export function conventionFields(options: ConventionCliOptions) {
  if (options.gamma !== undefined && options.weight !== undefined)
    throw new UsageError("--weight and --gamma both given: use one of them");
  if (options.beta !== undefined && options.bias !== undefined)
    throw new UsageError("--bias and --beta both given: use one of them");
  return {
    framework: options.framework as FrameworkName,
    mode: options.mode as Mode,
    layout: options.layout as LayoutName | undefined,
    channelAxis: options.channelAxis,
    eps: options.eps,
    momentum: options.momentum === "none" ? null : options.momentum,
    numBatchesTracked: options.numBatchesTracked,
    steps: options.steps === true,
    weight: options.weight ?? options.gamma,
    bias: options.bias ?? options.beta,
  };
}

export function toleranceFields(options: ToleranceCliOptions) {
  return {
    tolerance: { atol: options.atol, rtol: options.rtol, equalNan: options.equalNan === true },
    computeDtype: options.computeDtype as ComputeDType | undefined,
    strict: options.strict === true,
    allChannels: options.allChannels === true,
  };
}

/** The key commander gives an option's value: `--ref-grad-gamma` → `refGradGamma`. */
export function optionKey(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** The file arguments of a command's options (tensors and other inputs), for the output rules. */
export function fileOptions(options: object): (string | undefined)[] {
  const given = options as Record<string, unknown>;
  const aliases = (TENSOR_FIELDS as readonly TensorField[]).flatMap((field) =>
    field.alias === undefined ? [] : [optionKey(field.alias)],
  );
  const keys = [
    ...TENSOR_FIELDS.map((field) => field.key),
    ...aliases,
    "ref",
    "output",
    "saveRunningMean",
    "saveRunningVar",
    "saveGradInput",
    "saveGradWeight",
    "saveGradBias",
  ];
  return keys.map((key) => given[key]).filter((value): value is string => typeof value === "string");
}
