import { readFileSync } from "node:fs";
import { REPORT_SCHEMA_VERSION } from "./reports.js";

/**
 * The package's root folder. This module sits two folders below it both as dist/app/version.js and
 * inside the CLI bundle dist/cli/bn-check.cjs, so files the package ships (package.json, schema/)
 * are found from here, not from modules whose depth the bundle changes.
 */
export const PACKAGE_ROOT = new URL("../../", import.meta.url);

/** The package version, read from package.json next to dist/. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("package.json", PACKAGE_ROOT), "utf8")) as { version: string }
).version;

/** The fields every command's report starts with, in the order reports print them. */
export function reportHead<C extends string>(
  command: C,
): {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: { readonly name: "bn-check"; readonly version: string };
  readonly command: C;
} {
  return { schemaVersion: REPORT_SCHEMA_VERSION, tool: { name: "bn-check", version: VERSION }, command };
}
