/** Number formatting shared by the human-readable reporters. */

/** A short, readable number: 4 significant digits, exponent form for small and large magnitudes. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e6) return value.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(value.toPrecision(4)));
}

/** A value with the digits that identify it in its dtype (9 for float32, 17 for float64). */
export function formatValue(value: number, significantDigits: number): string {
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(significantDigits)));
}

/**
 * A percentage that never rounds a non-zero fraction to 0 or a partial one to 100:
 * 1 mismatch in 10^6 elements reads 0.0001%.
 */
export function formatPercent(part: number, whole: number): string {
  if (whole === 0 || part === 0) return "0%";
  if (part === whole) return "100%";
  const percent = (100 * part) / whole;
  let digits = 3;
  let text = String(Number(percent.toPrecision(digits)));
  while ((text === "100" || Number(text) === 0) && digits < 15) {
    digits++;
    text = String(Number(percent.toPrecision(digits)));
  }
  return `${text}%`;
}

export function formatIndex(index: readonly number[]): string {
  return `[${index.join(", ")}]`;
}

/**
 * Control characters (C0, DEL, C1) as `\xNN`: a name from a file or a directory (a case, a path, a
 * damaged header) cannot then move the cursor, set a window title or clear a terminal, nor break a
 * Markdown table or a GitHub workflow command.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The first few items of a list and how many more there are: "a0, a1, a2, …, and 4,990 more". */
export function listSome(items: readonly string[], shown = 10): string {
  if (items.length <= shown) return items.join(", ");
  return `${items.slice(0, shown).join(", ")}, …, and ${(items.length - shown).toLocaleString("en-US")} more`;
}
