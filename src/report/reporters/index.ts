/**
 * The reporter registry: `--format` choices are its keys, and each reporter declares the commands
 * it renders, so a command's formats are known (and a wrong one refused) before any work is done.
 */
import { UsageError } from "../../core/errors.js";
import type { CompareReport, FoldReport, Report, SuiteReport } from "../../app/reports.js";
import { renderGithub } from "./github.js";
import { renderHtml } from "./html.js";
import { renderJson } from "./json.js";
import { renderJunit } from "./junit.js";
import { renderMarkdown } from "./markdown.js";
import { renderText, type TextOptions } from "./text.js";

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

interface Reporter<R extends Report> {
  /** The commands whose reports it renders (every report of those commands, by its type). */
  readonly commands: readonly R["command"][];
  readonly render: (report: R, options: ReporterOptions) => string;
}

/** A reporter whose output needs asynchronous work (charts rendered by vega, loaded on demand). */
interface AsyncReporter<R extends Report> {
  readonly commands: readonly R["command"][];
  readonly render: (report: R) => Promise<string>;
}

export const reporters = {
  text: { commands: EVERY_COMMAND, render: renderText },
  json: { commands: EVERY_COMMAND, render: renderJson },
  junit: { commands: CASE_COMMANDS, render: renderJunit },
  markdown: { commands: EVERY_COMMAND, render: renderMarkdown },
  github: { commands: EVERY_COMMAND, render: renderGithub },
  html: { commands: CHART_COMMANDS, render: renderHtml },
} satisfies {
  text: Reporter<Report>;
  json: Reporter<Report>;
  junit: Reporter<CompareReport | SuiteReport | FoldReport>;
  markdown: Reporter<Report>;
  github: Reporter<Report>;
  html: AsyncReporter<Report>;
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

/** Renders a report in a format its command supports (checked with `checkFormat` beforehand); html is asynchronous. */
export function renderReport(format: Exclude<ReporterName, "html">, report: Report, options: ReporterOptions): string;
export function renderReport(format: ReporterName, report: Report, options: ReporterOptions): string | Promise<string>;
export function renderReport(format: ReporterName, report: Report, options: ReporterOptions): string | Promise<string> {
  checkFormat(report.command, format);
  if (format === "html") return reporters.html.render(report);
  if (format === "junit") {
    if (
      report.command === "compare" ||
      report.command === "diff" ||
      report.command === "suite" ||
      report.command === "model" ||
      report.command === "fold"
    )
      return reporters.junit.render(report);
    throw new UsageError(`--format junit does not apply to ${report.command}`);
  }
  return reporters[format].render(report, options);
}
