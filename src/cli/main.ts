/**
 * The CLI entry: the only place that writes to the terminal and sets exit codes.
 * 0 conforms, 1 checked and does not conform, 2 could not check, 130 interrupted (SIGINT).
 */
import { CommanderError } from "commander";
import { setMaxListeners } from "node:events";
import type { CheckCase } from "../app/cases/case.js";
import { describeError, TENSOR_FIELDS, type TensorField, type TensorKey } from "../app/cases/fields.js";
import type { FrameworkName } from "../conventions/index.js";
import type { Mode } from "../conventions/resolve.js";
import { BnCheckError, EXIT_CANNOT_CHECK, EXIT_INTERRUPTED, EXIT_TERMINATED, UsageError } from "../core/errors.js";
import { removePendingTemporaryFiles } from "../io/atomic-write.js";
import type { LayoutName } from "../core/layout.js";
import type { ComputeDType, FloatDType } from "../core/tensor.js";
import type { ExecutionOptions } from "../parallel/executor.js";
import { escapeControlCharacters } from "../core/format.js";
import { closePool, workerWarning } from "../parallel/pool.js";
import type { Report } from "../app/reports.js";
import { checkOutputFormats, emit } from "./report-output.js";
import { buildProgram, type CompareCliOptions, type ConventionCliOptions, type OutputCliOptions, type ToleranceCliOptions } from "./program.js";

function execution(options: OutputCliOptions): ExecutionOptions {
  return { threads: options.threads, parallelThreshold: options.parallelThreshold, signal: interruption.signal };
}

/** Convention fields shared by compare, run and suite cases. */
function conventionFields(options: ConventionCliOptions) {
  if (options.gamma !== undefined && options.weight !== undefined) throw new UsageError("--weight and --gamma both given: use one of them");
  if (options.beta !== undefined && options.bias !== undefined) throw new UsageError("--bias and --beta both given: use one of them");
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

function toleranceFields(options: ToleranceCliOptions) {
  return {
    tolerance: { atol: options.atol, rtol: options.rtol, equalNan: options.equalNan === true },
    computeDtype: options.computeDtype as ComputeDType | undefined,
    strict: options.strict === true,
    allChannels: options.allChannels === true,
  };
}

/** The key commander gives an option's value: `--ref-grad-gamma` → `refGradGamma`. */
function optionKey(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** The file arguments of a command's options (tensors and other inputs), for the output rules. */
function fileOptions(options: object): (string | undefined)[] {
  const given = options as Record<string, unknown>;
  const aliases = (TENSOR_FIELDS as readonly TensorField[]).flatMap((field) => (field.alias === undefined ? [] : [optionKey(field.alias)]));
  const keys = [...TENSOR_FIELDS.map((field) => field.key), ...aliases, "ref", "output", "saveRunningMean", "saveRunningVar", "saveGradInput", "saveGradWeight", "saveGradBias"];
  return keys.map((key) => given[key]).filter((value): value is string => typeof value === "string");
}

/**
 * Runs a many-case command with a progress bar on a terminal (none with --quiet or when stderr is
 * not a terminal), then prints its report; an interruption between cases ends with 130.
 */
async function withProgress(
  command: "suite" | "model",
  options: OutputCliOptions & { quiet?: boolean },
  run: (onProgress: (done: number, total: number, name: string) => void) => Promise<Report>,
): Promise<void> {
  const showProgress = options.quiet !== true && process.stderr.isTTY === true;
  const cliProgress = showProgress ? (await import("cli-progress")).default : null;
  const bar =
    cliProgress !== null
      ? new cliProgress.SingleBar({ format: `bn-check ${command} [{bar}] {value}/{total} {name}`, stream: process.stderr, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : null;
  let started = false;
  try {
    const lines = progressLines();
    const report = await run((done, total, name) => {
      if (lines) process.stderr.write(`bn-check: progress ${done}/${total} ${escapeControlCharacters(name)}\n`);
      if (bar === null) return;
      if (!started) bar.start(total, 0, { name: "" });
      started = true;
      bar.update(done, { name });
    });
    bar?.stop();
    await emit(report, options);
    if (interruption.signal.aborted) process.exitCode = EXIT_INTERRUPTED;
  } finally {
    bar?.stop();
  }
}

/**
 * BN_CHECK_PROGRESS=lines: progress as plain lines on stderr (`bn-check: progress 12/56 <case>`), for
 * a CI log where no terminal shows a bar, and for tests that act when work is under way.
 */
export function progressLines(): boolean {
  return process.env.BN_CHECK_PROGRESS === "lines";
}

const interruption = new AbortController();
// Every pooled task listens on this one signal (one listener per worker task): a pool of many threads,
// or tasks queued behind a busy worker, pass Node's default of 10 without any leak.
setMaxListeners(0, interruption.signal);

/**
 * A reader that stops early (`bn-check compare --help | head`) closes the pipe: the rest of the
 * output has nowhere to go, which is no error of bn-check's (without a listener Node would crash
 * with a stack trace). The exit code stays the check's.
 */
function ignoreClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

export async function main(argv: readonly string[]): Promise<void> {
  const debug = argv.includes("--debug");
  ignoreClosedPipe(process.stdout);
  const onInterrupt = () => {
    // First Ctrl-C: stop between cases and report what was done; the second one ends at once.
    if (interruption.signal.aborted) {
      removePendingTemporaryFiles();
      process.exit(EXIT_INTERRUPTED);
    }
    interruption.abort();
    process.stderr.write("bn-check: interrupted; stopping (Ctrl-C again to quit at once)\n");
  };
  process.on("SIGINT", onInterrupt);
  // SIGTERM ends at once, as the default would, but without leaving a temporary file behind.
  const onTerminate = () => {
    removePendingTemporaryFiles();
    process.exit(EXIT_TERMINATED);
  };
  process.on("SIGTERM", onTerminate);
  const program = buildProgram({
    async compare(input, reference, options: CompareCliOptions) {
      checkOutputFormats("compare", options, [input, ...(reference === undefined ? [] : [reference]), ...fileOptions(options)]);
      const { weight, bias, ...convention } = conventionFields(options);
      const given = options as unknown as Record<string, string | undefined>;
      const files: Partial<Record<TensorKey, string>> = { input, reference, weight, bias };
      for (const field of TENSOR_FIELDS as readonly TensorField[]) {
        if (field.flag === null || files[field.key as TensorKey] !== undefined) continue;
        files[field.key as TensorKey] = given[field.key] ?? (field.alias === undefined ? undefined : given[optionKey(field.alias)]);
      }
      const check: CheckCase = { name: reference ?? input, kind: "compare", expected: "match", files, ...convention, ...toleranceFields(options) };
      const { runCompare } = await import("../app/compare.js");
      await emit(await runCompare(check, execution(options)), options);
    },
    async diff(a, b, options) {
      checkOutputFormats("diff", options, [a, b]);
      const { runCompare } = await import("../app/compare.js");
      const check: CheckCase = { name: b, kind: "diff", expected: "match", files: { input: a, reference: b }, channelAxis: options.channelAxis, ...toleranceFields(options) };
      await emit(await runCompare(check, execution(options)), options);
    },
    async run(input, options) {
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
    },
    async matrix(input, options) {
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
    },
    async detect(input, reference, options) {
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
        tolerance: { atol: options.atol, rtol: options.rtol, computeDtype: options.computeDtype as ComputeDType | undefined, strict: options.strict === true },
      });
      await emit(report, options);
    },
    async suite(source, options) {
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
    },
    async fold(options) {
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
    },
    async model(options) {
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
    },
  });
  // No command: the help on stderr, and a usage error's exit code (nothing was checked).
  if (argv.filter((arg) => arg !== "--debug").length === 0) {
    process.stderr.write(program.helpInformation());
    process.exitCode = EXIT_CANNOT_CHECK;
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onTerminate);
    return;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    process.exitCode = exitCodeFor(error, debug);
  } finally {
    process.off("SIGINT", onInterrupt);
    process.off("SIGTERM", onTerminate);
    const warning = await workerWarning();
    if (warning !== null) process.stderr.write(`bn-check: ${warning}\n`);
    await closePool();
  }
}

function exitCodeFor(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // --help and --version end through exitOverride too; commander already printed its message.
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return 0;
    return EXIT_CANNOT_CHECK;
  }
  if (error instanceof BnCheckError) {
    process.stderr.write(`bn-check: ${describeError(error)}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return interruption.signal.aborted ? EXIT_INTERRUPTED : error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`bn-check: internal error: ${message}${debug ? "" : " (run with --debug for a stack trace)"}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT_CANNOT_CHECK;
}
