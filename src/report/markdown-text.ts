/**
 * Text inside Markdown (a table cell, a heading, a summary line): whatever a case or layer name holds
 * stays text in a PR comment or a step summary. HTML (`<img src=…>`, `<a href>`) is entity-escaped;
 * link brackets, emphasis, code-span backticks and table pipes are backslash-escaped; line breaks
 * (which could start a heading or end the table) become spaces; control characters are shown escaped.
 */
import { escapeControlCharacters } from "../core/format.js";

export function markdownText(value: string): string {
  return escapeControlCharacters(value.replace(/[\r\n]+/g, " "))
    .replace(/[\\`*_[\]|]/g, (c) => `\\${c}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}
