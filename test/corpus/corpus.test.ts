// Every fixture case copied from the reference corpus, run through the built CLI with the flags
// that map from its case.json: the verdict must be case.json's `expected`, and for fault cases
// exactly the tensors the fault names must fail.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareArgs } from "../../scripts/corpus-args.mjs";
import { FIXTURES, runCli } from "../helpers.js";

const NAMES: Record<string, string> = {
  ref: "output",
  ref_running_mean: "running_mean",
  ref_running_var: "running_var",
  ref_grad_input: "grad_input",
  ref_grad_weight: "grad_weight",
  ref_grad_bias: "grad_bias",
};

function caseDirs(): string[] {
  const root = join(FIXTURES, "corpus");
  return readdirSync(root).flatMap((set) => readdirSync(join(root, set)).map((name) => join(root, set, name)));
}

describe("reference corpus fixtures through the CLI", () => {
  const dirs = caseDirs();
  it("has every preset's real outputs and the fault cases", () => {
    expect(dirs.length).toBeGreaterThanOrEqual(45);
  });

  for (const [n, dir] of dirs.entries()) {
    const caseJson = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
    const label = dir.slice(FIXTURES.length + 1);
    it(`${label}: ${caseJson.expected}`, () => {
      // Every third case goes through the worker pool even though it is small.
      const extra = n % 3 === 0 ? ["--threads", "2", "--parallel-threshold", "0"] : ["--threads", "1"];
      const run = runCli([...compareArgs(dir), "--format", "json", ...extra]);
      expect(run.stderr, `stderr of ${label}`).toBe("");
      expect(run.status, `exit of ${label}: ${run.stderr}`).toBe(caseJson.expected === "match" ? 0 : 1);
      const report = JSON.parse(run.stdout);
      expect(report.exitCode).toBe(run.status);
      const failing = report.tensors
        .filter((t: { passed: boolean }) => !t.passed)
        .map((t: { name: string }) => t.name)
        .sort();
      if (caseJson.fault) {
        expect(failing).toEqual(caseJson.fault.mismatching_tensors.map((name: string) => NAMES[name]).sort());
      }
      if (caseJson.fault?.kind === "ulp64" || caseJson.fault?.kind === "channel_shift") {
        const output = report.tensors.find((t: { name: string }) => t.name === "output");
        if (caseJson.fault.indices_flat) {
          expect(output.mismatches).toBe(caseJson.fault.indices_flat.length);
          expect(
            output.worst
              .filter((e: { absError: number; allowed: number }) => e.absError > e.allowed)
              .map((e: { flatIndex: number }) => e.flatIndex)
              .sort((a: number, b: number) => a - b),
          ).toEqual(caseJson.fault.indices_flat);
        } else {
          const failingChannels = output.channels
            .filter((c: { mismatches: number }) => c.mismatches > 0)
            .map((c: { channel: number }) => c.channel);
          expect(failingChannels).toEqual([caseJson.fault.channel]);
        }
      }
      expect(existsSync(join(dir, "ref.npy"))).toBe(true);
    });
  }
});
