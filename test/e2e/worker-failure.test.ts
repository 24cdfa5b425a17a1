// Workers that cannot start, on the production path (the bundled CLI and its pool): the check
// finishes on the threads that work, one warning line says so, `timings.threads` counts only the
// threads that did work, and the exit code is the verdict's — never a crash, a hang or exit 1.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, runCli } from "../helpers.js";

const classic = (name: string) => join(FIXTURES, "classic", name);
const ILLCOND_FAULT = join(FIXTURES, "corpus", "illcond", "fault-chanshift-best-train-mixed-8x12x7x7-float32");

describe("a worker that cannot start", () => {
  for (const [file, message] of [
    ["fail-start.cjs", "fixture worker cannot start"],
    ["exit-start.cjs", "worker exited with code: 3"],
  ] as const) {
    it(`${file}: the verdict's exit code, one warning line, honest threads`, () => {
      const env = { BN_CHECK_WORKER_FILE: join(FIXTURES, "workers", file) };
      // --parallel-threshold 0 puts even this small case on the pool, so the workers are asked.
      const conforming = runCli(
        [
          "compare",
          classic("input.npy"),
          classic("ref.npy"),
          "--threads",
          "4",
          "--parallel-threshold",
          "0",
          "--format",
          "json",
        ],
        env,
      );
      expect(conforming.status).toBe(0);
      expect(conforming.stderr).toBe(
        `bn-check: warning: a worker thread failed (${message}); the check ran on the threads that work\n`,
      );
      const report = JSON.parse(conforming.stdout);
      expect(report.exitCode).toBe(0);
      expect(report.timings.threads).toBe(1);
      const failing = runCli(
        [
          "compare",
          join(ILLCOND_FAULT, "input.npy"),
          join(ILLCOND_FAULT, "ref.npy"),
          "--weight",
          join(ILLCOND_FAULT, "weight.npy"),
          "--bias",
          join(ILLCOND_FAULT, "bias.npy"),
          "--threads",
          "3",
          "--parallel-threshold",
          "0",
        ],
        env,
      );
      expect(failing.status).toBe(1);
      expect(failing.stderr.trim().split("\n")).toHaveLength(1);
      expect(failing.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("with healthy workers there is no warning", () => {
    const run = runCli([
      "compare",
      classic("input.npy"),
      classic("ref.npy"),
      "--threads",
      "2",
      "--parallel-threshold",
      "0",
    ]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe("");
  });
});
