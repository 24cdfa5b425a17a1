/**
 * The page's only stylesheet, inlined: system fonts, light and dark from the reader's setting
 * (prefers-color-scheme), and a print layout (no backgrounds, charts kept whole on a page).
 * vega writes its axis and legend colours as attributes; CSS rules beat presentation attributes,
 * so the dark theme recolours the chart text and lines here without touching the data marks.
 */
import { FONT_STACK } from "./charts.js";

export const STYLE = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f6f8fa;
  --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --head: #161b22; --pass: #3fb950; --warn: #d29922; --fail: #f85149; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1.5rem; background: var(--bg); color: var(--fg); font: 14px/1.45 ${FONT_STACK}; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin: 1.6rem 0 .5rem; } h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
p.meta, figcaption, .note { color: var(--muted); }
code, .num { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
.verdict { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; font-weight: 600; border: 2px solid currentColor; }
.v-conforms, .s-pass { color: var(--pass); } .v-arith { color: var(--warn); } .v-fail, .s-fail, .s-error { color: var(--fail); }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--head); } td.num { text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 1rem 0; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 12.5px; max-width: 720px; }
figure svg text { font-family: ${FONT_STACK}; }
svg .role-axis-label text, svg .role-axis-title text, svg .role-legend-label text, svg .role-legend-title text, svg .role-title-text text { fill: var(--fg); }
svg .role-axis-domain line, svg .role-axis-tick line { stroke: var(--muted); }
svg .role-axis-grid line { stroke: var(--line); }
details { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; padding: .25rem .75rem; }
details > summary { cursor: pointer; font-weight: 600; padding: .25rem 0; }
ul.hints li { margin: .2rem 0; }
@media print {
  :root { --bg: #ffffff; --fg: #000000; --muted: #333333; --line: #999999; --head: #eeeeee; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  details { border: none; padding: 0; }
  .scroll { overflow: visible; }
  h2, h3 { break-after: avoid; }
}
`;
