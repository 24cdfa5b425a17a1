/**
 * Renders a chart's vega-lite spec to static SVG, headless in Node: vega-lite compiles it, a vega
 * View with renderer "none" (no canvas, no DOM; text widths are estimated) lays it out, toSVG writes it.
 *
 * Why vega: measured on this machine (Node 20, 2 shared cores), importing vega + vega-lite costs
 * about 0.25 s in a fresh process, the first chart about 85 ms and each further one 20-45 ms
 * (12 to 256 channel points); after `compact` a chart is 12 kB (12 points) to 52 kB (256 points).
 * A failing compare with its five charts goes from 0.14 s to about 0.6 s. That is acceptable for a
 * report that is asked for, not for every run: so vega is imported here, on demand, only when an
 * HTML report or --report-dir is written, and stays out of the CLI bundle (which it could not join
 * anyway: vega-canvas awaits at top level). Hand-written SVG would be smaller and faster but would
 * re-implement log scales, ticks, legends and layout that vega gets right; the pages cap the number
 * of charts instead (see page.ts).
 *
 * The SVG is made self-contained and accessible here: no external reference survives (checked),
 * and the root gets role="img", a <title> and a <desc> (the chart's text alternative).
 */
import { BnCheckError } from "../../core/errors.js";
import { importPackage } from "../../core/import-package.js";
import type { Chart } from "./charts.js";
import { escapeHtml } from "./escape.js";

type Vega = typeof import("vega");
type VegaLite = typeof import("vega-lite");

let libraries: Promise<{ vega: Vega; vegaLite: VegaLite }> | null = null;

/** vega and vega-lite, imported once per process and only when a chart is drawn. */
function loadLibraries(): Promise<{ vega: Vega; vegaLite: VegaLite }> {
  libraries ??= Promise.all([importPackage<Vega>("vega"), importPackage<VegaLite>("vega-lite")]).then(
    ([vega, vegaLite]) => ({ vega, vegaLite }),
  );
  return libraries;
}

export interface SvgOptions {
  /** A standalone .svg file (beside a Markdown report) keeps a white background: no page CSS styles it. */
  readonly standalone: boolean;
}

let sequence = 0;

/** The chart as an SVG document (standalone) or element (inline in the HTML page). */
export async function renderSvg(chart: Chart, options: SvgOptions): Promise<string> {
  const { vega, vegaLite } = await loadLibraries();
  const spec = options.standalone ? { ...chart.spec, background: "white" } : chart.spec;
  const compiled = vegaLite.compile(spec).spec;
  // No loader is ever used (the data is inline); one that refuses keeps it that way.
  const loader = vega.loader();
  loader.load = () => Promise.reject(new Error("bn-check charts load nothing"));
  const view = new vega.View(vega.parse(compiled), { renderer: "none", loader, logLevel: vega.Error });
  try {
    return accessible(await view.toSVG(), chart, options);
  } finally {
    view.finalize();
  }
}

/**
 * Drops what vega writes that draws nothing (empty groups' backgrounds and foregrounds, hidden and
 * empty labels, default attributes, ARIA on inner marks, which role="img" on the root hides anyway)
 * and rounds coordinates to 1/100 px: about a third of the bytes, none of the picture.
 */
function compact(body: string): string {
  return body
    .replace(
      /<path class="(?:background|foreground)" aria-hidden="true" d="(?:M0,0h0v0h0Z)?"(?: pointer-events="none")?(?: display="none")?\/>/g,
      "",
    )
    .replace(/<text [^>]*opacity="0"[^>]*>[^<]*<\/text>|<text [^>]*\/>/g, "")
    .replace(
      / (?:opacity="1"|pointer-events="none"|aria-hidden="true"|role="graphics-(?:symbol|object)"|aria-roledescription="[^"]*"|aria-label="[^"]*")/g,
      "",
    )
    .replace(
      / (transform|d|x2|y2)="([^"]*)"/g,
      (_, name: string, value: string) => ` ${name}="${value.replace(/(\d\.\d\d)\d+/g, "$1")}"`,
    );
}

/** Attributes whose value may load something: a link, or a paint/clip/filter reference by url(). */
const LINK_ATTRIBUTES = /^(?:xlink:)?href$|^src$/i;
const URL_ATTRIBUTES = /^(?:style|fill|stroke|clip-path|mask|filter|marker(?:-start|-mid|-end)?|cursor)$/i;

/**
 * What in the SVG's markup would load something from outside it: a link not to a fragment, a url()
 * not to a fragment in a style or a presentation attribute, an @import in a <style> element. Text is
 * text: a case name drawn in an axis label or an aria-label (`url(http…)`, `href="http…"`) loads
 * nothing, and must never cost the user the report.
 */
export function externalReference(svg: string): string | null {
  const styles = [...svg.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)].map((m) => m[1]);
  for (const css of styles) if (/url\(\s*['"]?(?!#)|@import/i.test(css)) return "a <style> element loads a url";
  for (const tag of svg.matchAll(/<[a-zA-Z][^>]*>/g)) {
    for (const attribute of tag[0].matchAll(/\s([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      const name = attribute[1];
      const value = (attribute[2] ?? attribute[3] ?? "")
        .replace(/&quot;/g, '"')
        .replace(/&apos;|&#39;/g, "'")
        .replace(/&amp;/g, "&");
      if (LINK_ATTRIBUTES.test(name) && !value.trim().startsWith("#"))
        return `${name} to something other than a fragment`;
      if (URL_ATTRIBUTES.test(name) && (/url\(\s*['"]?(?!#)/i.test(value) || /@import/i.test(value)))
        return `${name} loads a url`;
    }
  }
  return null;
}

/** Adds the chart's title and text alternative to the root element, and refuses anything external. */
function accessible(svg: string, chart: Chart, options: SvgOptions): string {
  const external = externalReference(svg);
  if (external !== null)
    throw new BnCheckError(`chart "${chart.title}": vega's SVG refers to something outside it (${external})`);
  const id = `chart-${++sequence}`;
  const head = svg.indexOf(">") + 1;
  const open = svg
    .slice(0, head)
    .replace(/^<svg /, `<svg role="img" aria-labelledby="${id}-title ${id}-desc" `)
    .replace(/ xmlns:xlink="[^"]*"/, "");
  const labels =
    `<title id="${id}-title">${escapeHtml(chart.title)}</title><desc ` +
    `id="${id}-desc">${escapeHtml(chart.description)}</desc>`;
  const body = compact(svg.slice(head));
  const document = `${open}${labels}${body}`;
  return options.standalone ? `<?xml version="1.0" encoding="UTF-8"?>\n${document}\n` : document;
}
