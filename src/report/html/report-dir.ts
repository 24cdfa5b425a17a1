/**
 * --report-dir DIR: the Markdown report as DIR/report.md with the charts beside it as .svg files,
 * which it links. Markdown stays tables (GitHub strips data: images from comments and step
 * summaries); a linked .svg file in a repository or an artifact renders where an inline one would not.
 * Standalone .svg files keep a white background, since no page CSS themes them.
 */
import { join } from "node:path";
import { escapeControlCharacters } from "../../core/format.js";
import type { OutputFile } from "../../io/atomic-write.js";
import type { Report } from "../../app/reports.js";
import { renderMarkdown } from "../reporters/markdown.js";
import { reportCharts } from "./page.js";
import { renderSvg } from "./svg.js";

export const REPORT_DIR_MARKDOWN = "report.md";

/** A file-name-safe form of a case name: letters, digits, dot, dash and underscore, at most 80 characters. */
export function fileSlug(name: string): string {
  const slug = name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[.-]+|-+$/g, "");
  return (slug === "" ? "case" : slug).slice(0, 80);
}

/** Text for a Markdown heading, link text or paragraph: control characters shown, markup characters escaped. */
function markdownText(text: string): string {
  return escapeControlCharacters(text.replace(/\n/g, " ")).replace(/[\\`*_[\]()<>#|!]/g, (c) => `\\${c}`);
}

/** The files --report-dir writes: report.md, then each chart's .svg (names unique within the directory). */
export async function reportDirOutputs(report: Report, dir: string): Promise<OutputFile[]> {
  const svgs: OutputFile[] = [];
  const used = new Set<string>([REPORT_DIR_MARKDOWN]);
  const lines: string[] = [];
  for (const { section, charts } of reportCharts(report)) {
    if (charts.length === 0) continue;
    lines.push(`#### Charts: ${markdownText(section)}`, "");
    for (const chart of charts) {
      let file = `${fileSlug(section)}-${chart.id}.svg`;
      for (let n = 2; used.has(file); n++) file = `${fileSlug(section)}-${chart.id}-${n}.svg`;
      used.add(file);
      svgs.push({ path: join(dir, file), content: Buffer.from(await renderSvg(chart, { standalone: true })) });
      lines.push(`![${markdownText(chart.title)}](${encodeURI(file)})`, "", `*${markdownText(chart.caption)}*`, "");
    }
  }
  const markdown = `${renderMarkdown(report)}${lines.length === 0 ? "" : `\n${lines.join("\n")}`}`;
  return [{ path: join(dir, REPORT_DIR_MARKDOWN), content: Buffer.from(markdown) }, ...svgs];
}
