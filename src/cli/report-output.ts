/**
 * Where a command's report goes: the format checks made before any work (--format, --report's
 * extension, --report-dir), then the rendering and the all-or-none writing of the report files,
 * and the report on stdout. The exit code is the report's.
 */
import { existsSync, mkdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkOutputTargets, type OutputFile, OutputFileError, writeOutputs } from "../io/atomic-write.js";
import { tensorSpecFile } from "../io/read-tensor.js";
import {
  CHART_COMMANDS,
  checkFormat,
  renderReport,
  type CommandName,
  type ReporterName,
} from "../report/reporters/index.js";
import type { Report } from "../app/reports.js";
import { UsageError } from "../core/errors.js";
import type { OutputCliOptions } from "./program.js";
import { stdoutIsTerminal, writeStdout } from "./stdout.js";

/**
 * Colour only for a terminal, unless FORCE_COLOR asks for it; NO_COLOR (https://no-color.org) and
 * --no-color always win.
 */
function useColor(flag: boolean): boolean {
  const { NO_COLOR, FORCE_COLOR } = process.env;
  if (!flag || (NO_COLOR !== undefined && NO_COLOR !== "")) return false;
  if (FORCE_COLOR !== undefined && FORCE_COLOR !== "" && FORCE_COLOR !== "0" && FORCE_COLOR !== "false") return true;
  return stdoutIsTerminal();
}

/** The machine format a --report file gets: --format, or (for text) the file's extension. */
function reportFormat(path: string, format: ReporterName): ReporterName {
  if (format !== "text") return format;
  if (/\.json$/i.test(path)) return "json";
  if (/\.xml$/i.test(path)) return "junit";
  if (/\.md$/i.test(path)) return "markdown";
  if (/\.html?$/i.test(path)) return "html";
  return "text";
}

/**
 * The input files each command's outputs were checked against,
 * so the outputs named only later (charts) are checked too.
 */
const inputsOfCommand = new WeakMap<OutputCliOptions, string[]>();

/** --report-dir: a directory (made if missing); report.md in it must not be an input. */
function checkReportDir(command: CommandName, dir: string, files: readonly string[]): void {
  if (!(CHART_COMMANDS as readonly CommandName[]).includes(command))
    throw new UsageError(`--report-dir applies to ${CHART_COMMANDS.join(", ")}, not ${command}`);
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new OutputFileError(`--report-dir ${dir}: is not a directory`);
  if (existsSync(dir)) checkOutputTargets([join(dir, "report.md")], files, true);
  else if (!existsSync(join(dir, "..")))
    throw new OutputFileError(
      `--report-dir ${dir}: cannot be made (its parent directory does not exist); nothing was written`,
    );
}

/**
 * Refuses a --format (or a --report file's format) the command cannot write, before the command
 * reads or writes anything.
 */
export function checkOutputFormats(
  command: CommandName,
  options: OutputCliOptions,
  inputs: readonly (string | undefined)[],
): void {
  checkFormat(command, options.format as ReporterName);
  const files = inputs.filter((path): path is string => path !== undefined).map(tensorSpecFile);
  inputsOfCommand.set(options, files);
  if (options.reportDir !== undefined) checkReportDir(command, options.reportDir, files);
  if (options.report === undefined) return;
  checkFormat(command, reportFormat(options.report, options.format as ReporterName), `--report ${options.report}:`);
  // The report follows the output rules: never an input, an existing file only with --force-free
  // replacement (a report is always rewritten), a special file written in place.
  checkOutputTargets([options.report], files, true);
}

/** The report files: --report, and --report-dir's report.md and charts; rendered first, then written all or none. */
async function reportOutputs(report: Report, options: OutputCliOptions): Promise<OutputFile[]> {
  const outputs: OutputFile[] = [];
  if (options.report !== undefined) {
    const fileFormat = reportFormat(options.report, options.format as ReporterName);
    outputs.push({
      path: options.report,
      content: Buffer.from(await renderReport(fileFormat, report, { color: false })),
    });
  }
  if (options.reportDir !== undefined) {
    const { reportDirOutputs } = await import("../report/html/report-dir.js");
    outputs.push(...(await reportDirOutputs(report, options.reportDir)));
  }
  return outputs;
}

async function writeReports(outputs: readonly OutputFile[], options: OutputCliOptions): Promise<void> {
  const dir = options.reportDir;
  const made = dir !== undefined && !existsSync(dir);
  if (made) mkdirSync(dir);
  try {
    // The chart files' names are known only now: check every output against the inputs again.
    checkOutputTargets(
      outputs.map((o) => o.path),
      inputsOfCommand.get(options) ?? [],
      true,
    );
    await writeOutputs(outputs);
  } catch (error) {
    // All or none: a directory made for outputs that were not written goes too.
    if (made) rmdirSync(dir);
    throw error;
  }
}

/** Prints the report (text on the terminal when --report takes the machine format) and sets the exit code. */
export async function emit(report: Report, options: OutputCliOptions): Promise<void> {
  const outputs = await reportOutputs(report, options);
  if (outputs.length > 0) await writeReports(outputs, options);
  const format = options.report === undefined ? (options.format as ReporterName) : "text";
  // Only text is coloured: a machine format never asks whether stdout is a terminal.
  const color = format === "text" && useColor(options.color);
  writeStdout(await renderReport(format, report, { color }));
  process.exitCode = report.exitCode;
}
