/**
 * The CLI entry: the only place that writes to the terminal and sets exit codes.
 * 0 conforms, 1 checked and does not conform, 2 could not check, 130 interrupted (SIGINT).
 */
import { CommanderError } from "commander";
import { describeError } from "../app/cases/fields.js";
import { BnCheckError, EXIT_CANNOT_CHECK, EXIT_INTERRUPTED } from "../core/errors.js";
import { closePool, workerWarning } from "../parallel/pool.js";
import { commandHandlers } from "./commands.js";
import { handleSignals, interruption } from "./interruption.js";
import { buildProgram } from "./program.js";

export { progressLines } from "./progress.js";

export async function main(argv: readonly string[]): Promise<void> {
  const debug = argv.includes("--debug");
  const stopHandlingSignals = handleSignals();
  const program = buildProgram(commandHandlers(debug), argv);
  // No command: the help on stderr, and a usage error's exit code (nothing was checked).
  if (argv.filter((arg) => arg !== "--debug").length === 0) {
    process.stderr.write(program.helpInformation());
    process.exitCode = EXIT_CANNOT_CHECK;
    stopHandlingSignals();
    return;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    process.exitCode = exitCodeFor(error, debug);
  } finally {
    stopHandlingSignals();
    const warning = await workerWarning();
    if (warning !== null) process.stderr.write(`bn-check: ${warning}\n`);
    await closePool();
  }
}

function exitCodeFor(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // --help and --version end through exitOverride too; commander already printed its message.
    if (
      error.code === "commander.helpDisplayed" ||
      error.code === "commander.version" ||
      error.code === "commander.help"
    )
      return 0;
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
