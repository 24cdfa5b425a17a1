/**
 * The HTML reporter: a self-contained page with charts (see ../html/page.ts). The page modules are
 * imported on demand, so the other formats never load them, nor vega behind them.
 */
import type { Report } from "../../app/reports.js";

export async function renderHtml(report: Report): Promise<string> {
  const { renderHtmlPage } = await import("../html/page.js");
  return renderHtmlPage(report);
}
