/**
 * Text for HTML and SVG: every character markup gives meaning to is escaped, and control characters
 * (which a file or case name may carry) are shown as \xNN, as in the other reporters.
 */
import { escapeControlCharacters } from "../../core/format.js";

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return escapeControlCharacters(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}
