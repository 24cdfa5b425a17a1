/** The reporter registry: `--format` choices are its keys. */
import type { Report } from "../report.js";
import { renderJson } from "./json.js";
import { renderText, type TextOptions } from "./text.js";

export type ReporterOptions = TextOptions;

export const reporters = {
  text: (report: Report, options: ReporterOptions) => renderText(report, options),
  json: (report: Report) => renderJson(report),
} satisfies Record<string, (report: Report, options: ReporterOptions) => string>;

export type ReporterName = keyof typeof reporters;
export const REPORTER_NAMES = Object.keys(reporters) as ReporterName[];
