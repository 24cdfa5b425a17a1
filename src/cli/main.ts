/**
 * The CLI entry: the only place that writes to the terminal's error stream and sets exit codes.
 * 0 conforms, 1 checked and does not conform, 2 could not check.
 */
import { CommanderError } from "commander";
import type { FrameworkName } from "../conventions/index.js";
import type { Mode } from "../conventions/resolve.js";
import { BnCheckError, EXIT_CANNOT_CHECK } from "../errors.js";
import type { LayoutName } from "../kernel/layout.js";
import type { ComputeDType } from "../npy/tensor.js";
import { closePool } from "../parallel/pool.js";
import type { InjectedFault } from "../parallel/task.js";
import { reporters, type ReporterName } from "../report/reporters/index.js";
import { runCompare } from "./commands/compare.js";
import { buildProgram, type CompareCliOptions } from "./program.js";

/**
 * Colour only for a terminal, unless FORCE_COLOR asks for it; NO_COLOR (https://no-color.org) and
 * --no-color always win.
 */
function useColor(flag: boolean): boolean {
  const { NO_COLOR, FORCE_COLOR } = process.env;
  if (!flag || (NO_COLOR !== undefined && NO_COLOR !== "")) return false;
  if (FORCE_COLOR !== undefined && FORCE_COLOR !== "" && FORCE_COLOR !== "0" && FORCE_COLOR !== "false") return true;
  return process.stdout.isTTY === true;
}

/** Test-only: BN_CHECK_TEST_INJECT_FAULT=throw|exit makes the workers fail. */
function injectedFault(): InjectedFault | undefined {
  const value = process.env.BN_CHECK_TEST_INJECT_FAULT;
  return value === "throw" || value === "exit" ? value : undefined;
}

async function compareAction(input: string, reference: string, options: CompareCliOptions): Promise<void> {
  if (options.gamma !== undefined && options.weight !== undefined) throw new BnCheckError("--weight and --gamma both given: use one of them");
  if (options.beta !== undefined && options.bias !== undefined) throw new BnCheckError("--bias and --beta both given: use one of them");
  const report = await runCompare({
    input,
    reference,
    framework: options.framework as FrameworkName,
    mode: options.mode as Mode,
    layout: options.layout as LayoutName | undefined,
    channelAxis: options.channelAxis,
    eps: options.eps,
    momentum: options.momentum === "none" ? null : options.momentum,
    numBatchesTracked: options.numBatchesTracked,
    weight: options.weight ?? options.gamma,
    bias: options.bias ?? options.beta,
    runningMean: options.runningMean,
    runningVar: options.runningVar,
    refRunningMean: options.refRunningMean,
    refRunningVar: options.refRunningVar,
    atol: options.atol,
    rtol: options.rtol,
    equalNan: options.equalNan === true,
    computeDtype: options.computeDtype as ComputeDType | undefined,
    threads: options.threads,
    parallelThreshold: options.parallelThreshold,
    injectFault: injectedFault(),
  });
  const render = reporters[options.format as ReporterName];
  process.stdout.write(render(report, { color: useColor(options.color) }));
  process.exitCode = report.exitCode;
}

export async function main(argv: readonly string[]): Promise<void> {
  const debug = argv.includes("--debug");
  const program = buildProgram(compareAction);
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    process.exitCode = exitCodeFor(error, debug);
  } finally {
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
    process.stderr.write(`bn-check: ${error.message}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`bn-check: internal error: ${message}${debug ? "" : " (run with --debug for a stack trace)"}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT_CANNOT_CHECK;
}
