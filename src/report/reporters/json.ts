import type { Report } from "../../app/reports.js";

/** Strict JSON: non-finite numbers become the strings "NaN", "Infinity", "-Infinity". */
export function renderJson(report: Report): string {
  return `${JSON.stringify(report, (_key, value: unknown) => (typeof value === "number" && !Number.isFinite(value) ? String(value) : value), 2)}\n`;
}
