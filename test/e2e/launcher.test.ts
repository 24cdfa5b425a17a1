// The launcher (bin/bn-check.cjs): `--version` answered without the bundle, and the bundle run
// through V8's code cache, which must never change what a run prints, however the cache file is.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, ROOT, runCli } from "../helpers.js";

const CLASSIC = [
  "compare",
  join(FIXTURES, "classic", "input.npy"),
  join(FIXTURES, "classic", "ref.npy"),
  "--format",
  "json",
];
const BUNDLE = join(ROOT, "dist", "cli", "bn-check.cjs");

/** The report without its timings (they differ from run to run). */
function report(stdout: string): unknown {
  const { timings: _timings, ...rest } = JSON.parse(stdout) as Record<string, unknown>;
  return rest;
}

/** The cache file the launcher uses for this bundle, Node and architecture. */
function cacheFile(): string {
  const content = /^\/\/# bn-check-bundle (\w+)/.exec(readFileSync(BUNDLE, "utf8"))?.[1];
  expect(content, "the build names the bundle's content on its first line").toMatch(/^[0-9a-f]{16}$/);
  return `${BUNDLE}.${content}.${process.version}-${process.arch}.v8cache`;
}

describe("the launcher", () => {
  it("answers --version from package.json, as commander does with the whole bundle loaded", () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    const fast = runCli(["--version"]);
    const throughCommander = runCli(["--debug", "--version"]);
    expect(fast.status).toBe(0);
    expect(fast.stdout).toBe(`${version}\n`);
    expect(throughCommander.stdout).toBe(fast.stdout);
    expect(runCli(["-V"]).stdout).toBe(fast.stdout);
  });

  it("writes a code cache named by the bundle's content, and a run with it prints what a run without it does", () => {
    const uncached = runCli(CLASSIC, { BN_CHECK_CODE_CACHE: "off" });
    const first = runCli(CLASSIC);
    const second = runCli(CLASSIC);
    expect(uncached.status).toBe(0);
    expect(first.stderr + second.stderr).toBe("");
    expect(report(first.stdout)).toEqual(report(uncached.stdout));
    expect(report(second.stdout)).toEqual(report(uncached.stdout));
    const file = cacheFile();
    expect(readdirSync(join(ROOT, "dist", "cli"))).toContain(file.split("/").pop());
    expect(readFileSync(file).length).toBeGreaterThan(10_000);
  });

  it("a damaged cache is rejected by V8 and rewritten: the run's report is unchanged and stderr stays empty", () => {
    const expected = report(runCli(CLASSIC, { BN_CHECK_CODE_CACHE: "off" }).stdout);
    const file = cacheFile();
    for (const garbage of [Buffer.from("xx"), Buffer.alloc(4096, 0xa5)]) {
      writeFileSync(file, garbage);
      const run = runCli(CLASSIC);
      expect(run.status).toBe(0);
      expect(run.stderr).toBe("");
      expect(report(run.stdout)).toEqual(expected);
      // Rewritten after the run (by this one, or by a run of another test file started meanwhile).
      expect(readFileSync(file).equals(garbage)).toBe(false);
    }
  });

  it("an HTML report loads vega through the launcher's import (code compiled by vm has none of its own)", () => {
    const run = runCli([...CLASSIC.slice(0, 3), "--format", "html"]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^<!DOCTYPE html>/i);
    expect(run.stdout).toContain("<svg");
  });
});
