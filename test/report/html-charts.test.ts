// The chart specs: data in, marks out. Each spec is rendered by vega to SVG and the marks counted,
// so a spec that drops a channel, draws a failing one like a passing one, or loses an axis title fails.
import { describe, expect, it } from "vitest";
import {
  caseRatioChart,
  type ChannelPoint,
  channelErrorChart,
  magnitudeChart,
  STANDING_COLORS,
  ulpHistogramChart,
  varianceChart,
} from "../../src/report/html/charts.js";
import { renderSvg } from "../../src/report/html/svg.js";

/**
 * The inner markup of the group vega draws a layer's marks in (class
 * "role-mark layer_K_marks", or "role-mark marks" for a single layer).
 */
function markGroup(svg: string, layerClass: string): string {
  const start = svg.indexOf(`role-mark ${layerClass}"`);
  expect(start, `no mark group ${layerClass}`).toBeGreaterThan(0);
  const open = svg.indexOf(">", start) + 1;
  return svg.slice(open, svg.indexOf("</g>", open));
}
const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;
const fills = (group: string) => (group.match(/fill="(#[0-9a-f]{6})"/g) ?? []).map((f) => f.slice(6, 13));

const channels = (n: number, failing: readonly number[]): ChannelPoint[] =>
  Array.from({ length: n }, (_, c) => ({
    channel: c,
    maxAbsError: 1e-7 * (c + 1),
    boundRatio: failing.includes(c) ? 50 : 0,
    standing: failing.includes(c) ? "outside allowance" : "within flat tolerance",
  }));

describe("chart specs render to the marks their data asks for", () => {
  it("per-channel error: one symbol per channel, failing channels in another colour and shape, axis titles, the atol line", async () => {
    for (const n of [3, 17]) {
      const svg = await renderSvg(channelErrorChart("output", channels(n, [1]), 1e-5, 1.3e-6, ""), {
        standalone: false,
      });
      const marks = markGroup(svg, "layer_0_marks");
      expect(count(marks, /<path /g)).toBe(n);
      const colours = fills(marks);
      expect(colours.filter((c) => c === STANDING_COLORS[2])).toHaveLength(1);
      expect(colours.filter((c) => c === STANDING_COLORS[0])).toHaveLength(n - 1);
      // A failing channel is a cross, not a circle (readable without colour).
      const shapes = marks.match(/ d="[^"]*"/g) ?? [];
      expect(new Set(shapes.map((d) => d.includes("A"))).size).toBe(2);
      expect(svg).toContain(">channel</text>");
      expect(svg).toContain(">max |error|</text>");
      expect(count(markGroup(svg, "layer_1_marks"), /<line /g)).toBe(1);
    }
  });

  it("per-channel error: channels with zero error are left off the log scale, and the caption says so", async () => {
    const points = channels(5, []).map((p, c) => (c === 2 ? { ...p, maxAbsError: 0 } : p));
    const chart = channelErrorChart("output", points, 1e-5, 0, "");
    expect(chart.caption).toContain("1 channel(s) with a zero value is not drawn");
    expect(count(markGroup(await renderSvg(chart, { standalone: false }), "layer_0_marks"), /<path /g)).toBe(4);
  });

  it("error against variance: one point per channel on log axes titled for what they are", async () => {
    const points = [1e-6, 1e-3, 1, 10].map((variance, channel) => ({
      channel,
      variance,
      maxAbsError: 1e-4 / (variance + 1e-3),
      standing: "within flat tolerance" as const,
    }));
    const svg = await renderSvg(varianceChart("output", points, 1e-5, ""), { standalone: false });
    expect(count(markGroup(svg, "layer_0_marks"), /<path /g)).toBe(4);
    expect(svg).toContain(">batch variance of the channel</text>");
    expect(svg).toContain(">1e-6</text>");
  });

  it("error against |reference|: the elements as points, the flat tolerance as one dashed curve, the caption naming what was sampled", async () => {
    const points = [0.1, 1, 10].map((magnitude) => ({
      magnitude,
      absError: 2e-5 * magnitude,
      standing: "outside allowance" as const,
    }));
    const chart = magnitudeChart("output", points, 1e-5, 1e-3, "The report holds only these 3 elements.");
    const svg = await renderSvg(chart, { standalone: false });
    expect(count(markGroup(svg, "layer_0_marks"), /<path /g)).toBe(1);
    expect(markGroup(svg, "layer_0_marks")).toContain('stroke-dasharray="5,4"');
    expect(count(markGroup(svg, "layer_1_marks"), /<path /g)).toBe(3);
    expect(chart.caption).toContain("holds only these 3 elements");
  });

  it("ulp histogram: one bar per bucket in the report's order, non-finite in the failing colour", async () => {
    const buckets = [
      { ulps: "0", count: 90 },
      { ulps: "1", count: 7 },
      { ulps: "2-3", count: 2 },
      { ulps: "non-finite", count: 1 },
    ];
    const svg = await renderSvg(ulpHistogramChart("output", buckets, "float32", 100), { standalone: false });
    const bars = markGroup(svg, "marks");
    expect(count(bars, /<path /g)).toBe(4);
    expect(fills(bars)).toEqual([STANDING_COLORS[0], STANDING_COLORS[0], STANDING_COLORS[0], STANDING_COLORS[2]]);
    // The x axis's labels are the rotated ones (the y axis has a "1" too).
    const labels = [...svg.matchAll(/<text[^>]*rotate\(320\)[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(labels).toEqual(["0", "1", "2-3", "non-finite"]);
  });

  it("cases by ratio: one bar per case, worst first, cases beyond the allowance in the failing colour", async () => {
    const cases = [
      { name: "ok-case", ratio: 0.2, standing: "within flat tolerance" as const },
      { name: "bad-case", ratio: 30, standing: "outside allowance" as const },
      { name: "arith-case", ratio: 0.9, standing: "within arithmetic bound" as const },
    ];
    const svg = await renderSvg(caseRatioChart(cases, ""), { standalone: false });
    const bars = markGroup(svg, "layer_0_marks");
    expect(count(bars, /<path /g)).toBe(3);
    expect(fills(bars)).toContain(STANDING_COLORS[2]);
    const names = [...svg.matchAll(/<text[^>]*>(\w+-case)<\/text>/g)].map((m) => m[1]);
    expect(names).toEqual(["bad-case", "arith-case", "ok-case"]);
  });
});

describe("the SVG is self-contained and labelled", () => {
  it("has role=img, a <title> and a <desc>, escapes names, and refers to nothing outside it", async () => {
    const chart = channelErrorChart('evil</title><script>alert(1)</script>"&', channels(2, []), 1e-5, 0, "");
    const svg = await renderSvg(chart, { standalone: false });
    expect(svg).toMatch(/^<svg role="img" aria-labelledby="(chart-\d+)-title \1-desc"/);
    expect(svg).toContain("<title id=");
    expect(svg).toContain("<desc id=");
    expect(svg).not.toContain("<script");
    expect(svg).toContain("evil&lt;/title&gt;&lt;script&gt;");
    expect(svg).not.toMatch(/href=|url\((?!#)|@import/);
  });

  it("a standalone file is an XML document with a white background; the inline one has none", async () => {
    const chart = channelErrorChart("output", channels(2, []), 1e-5, 0, "");
    const standalone = await renderSvg(chart, { standalone: true });
    expect(standalone.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')).toBe(true);
    expect(standalone).toMatch(/<rect [^>]*fill="white"/);
    expect(await renderSvg(chart, { standalone: false })).not.toMatch(/fill="white"/);
  });
});
