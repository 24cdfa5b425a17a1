/** The reporter registry: `--format` choices are its keys. */
import type { Report } from "../report.js";
import { renderGithub } from "./github.js";
import { renderJson } from "./json.js";
import { renderJunit } from "./junit.js";
import { renderMarkdown } from "./markdown.js";
import { renderText, type TextOptions } from "./text.js";

export type ReporterOptions = TextOptions;

export const reporters = {
  text: (report: Report, options: ReporterOptions) => renderText(report, options),
  json: (report: Report) => renderJson(report),
  junit: (report: Report) => renderJunit(report),
  markdown: (report: Report) => renderMarkdown(report),
  github: (report: Report) => renderGithub(report),
} satisfies Record<string, (report: Report, options: ReporterOptions) => string>;

export type ReporterName = keyof typeof reporters;
export const REPORTER_NAMES = Object.keys(reporters) as ReporterName[];
