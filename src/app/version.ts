import { readFileSync } from "node:fs";
import { REPORT_SCHEMA_VERSION } from "./reports.js";

/** The package version, read from package.json next to dist/. */
export const VERSION: string = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** The fields every command's report starts with, in the order reports print them. */
export function reportHead<C extends string>(
  command: C,
): { readonly schemaVersion: typeof REPORT_SCHEMA_VERSION; readonly tool: { readonly name: "bn-check"; readonly version: string }; readonly command: C } {
  return { schemaVersion: REPORT_SCHEMA_VERSION, tool: { name: "bn-check", version: VERSION }, command };
}
