/**
 * The reporter registry: `--format` choices are its keys, and each reporter declares the commands
 * it renders, so a command's formats are known (and a wrong one refused) before any work is done.
 */
import { UsageError } from "../../core/errors.js";
import type { CompareReport, FoldReport, Report, SuiteReport } from "../../app/reports.js";
import type { TextOptions } from "./text.js";

export type ReporterOptions = TextOptions;
export type CommandName = Report["command"];

const EVERY_COMMAND = [
  "compare",
  "diff",
  "suite",
  "model",
  "run",
  "matrix",
  "detect",
  "fold",
] as const satisfies readonly CommandName[];
const CASE_COMMANDS = ["compare", "diff", "suite", "model", "fold"] as const satisfies readonly CommandName[];
/** The commands whose reports have charts (suite-shaped reports, model's too, are rendered by their shape). */
export const CHART_COMMANDS = [
  "compare",
  "diff",
  "suite",
  "model",
  "matrix",
  "detect",
  "fold",
] as const satisfies readonly CommandName[];

/**
 * A reporter: the commands whose reports it renders (every report of those commands, by its type), and
 * its renderer, imported when a report is first rendered in its format. A JSON report thus never loads
 * the text reporter's chalk (whose terminal check loads node:tty and node:net, 3-4 ms of a small
 * command's start) nor cli-table3.
 */
interface Reporter<R extends Report> {
  readonly commands: readonly R["command"][];
  readonly load: () => Promise<(report: R, options: ReporterOptions) => string | Promise<string>>;
}

export const reporters = {
  text: { commands: EVERY_COMMAND, load: async () => (await import("./text.js")).renderText },
  json: { commands: EVERY_COMMAND, load: async () => (await import("./json.js")).renderJson },
  junit: { commands: CASE_COMMANDS, load: async () => (await import("./junit.js")).renderJunit },
  markdown: { commands: EVERY_COMMAND, load: async () => (await import("./markdown.js")).renderMarkdown },
  github: { commands: EVERY_COMMAND, load: async () => (await import("./github.js")).renderGithub },
  // Charts rendered by vega, itself loaded on demand by the page modules.
  html: { commands: CHART_COMMANDS, load: async () => (await import("./html.js")).renderHtml },
} satisfies {
  text: Reporter<Report>;
  json: Reporter<Report>;
  junit: Reporter<CompareReport | SuiteReport | FoldReport>;
  markdown: Reporter<Report>;
  github: Reporter<Report>;
  html: Reporter<Report>;
};

export type ReporterName = keyof typeof reporters;
export const REPORTER_NAMES = Object.keys(reporters) as ReporterName[];

/** The formats a command's report can be written in. */
export function formatsFor(command: CommandName): ReporterName[] {
  return REPORTER_NAMES.filter((name) => (reporters[name].commands as readonly CommandName[]).includes(command));
}

/** Refuses a format the command has no reporter for (call before doing any work). */
export function checkFormat(command: CommandName, format: ReporterName, source = "--format"): void {
  if (!formatsFor(command).includes(format)) {
    const users = EVERY_COMMAND.filter((name) => formatsFor(name).includes(format));
    throw new UsageError(
      `${source} ${format} applies to ${users.join(", ")}, not ` +
        `${command} (its formats: ${formatsFor(command).join(", ")})`,
    );
  }
}

/** Renders a report in a format its command supports (checked with `checkFormat` beforehand). */
export async function renderReport(format: ReporterName, report: Report, options: ReporterOptions): Promise<string> {
  checkFormat(report.command, format);
  if (format === "junit") {
    if (
      report.command === "compare" ||
      report.command === "diff" ||
      report.command === "suite" ||
      report.command === "model" ||
      report.command === "fold"
    )
      return (await reporters.junit.load())(report);
    throw new UsageError(`--format junit does not apply to ${report.command}`);
  }
  return (await reporters[format].load())(report, options);
}
