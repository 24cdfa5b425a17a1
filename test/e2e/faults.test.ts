// Faults a user or CI meets: Ctrl-C in the middle of long work, a write that fails half-way.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tensorFromArray } from "../../src/core/tensor.js";
import { writeNpy } from "../../src/io/npy/write-npy.js";
import { BIN, FIXTURES, normals, ROOT, seededRandom } from "../helpers.js";

/**
 * Spawns the CLI with progress lines on stderr (BN_CHECK_PROGRESS=lines), sends SIGINT once `trigger`
 * shows there — work is under way, whatever the machine's speed — and collects the result. No clock.
 */
function interrupt(
  args: string[],
  trigger: RegExp,
): Promise<{ status: number | null; stdout: string; stderr: string; signalled: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", NO_COLOR: "1", BN_CHECK_PROGRESS: "lines" },
    });
    let stdout = "";
    let stderr = "";
    let signalled = false;
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      if (!signalled && trigger.test(stderr)) {
        signalled = true;
        child.kill("SIGINT");
      }
    });
    child.on("close", (status) => resolve({ status, stdout, stderr, signalled }));
  });
}

const dir = mkdtempSync(join(tmpdir(), "bn-check-faults-"));
const random = seededRandom(77);
const shape = [8, 4, 32, 32];
const big = join(dir, "big.npy");
writeNpy(
  big,
  tensorFromArray(
    normals(
      random,
      shape.reduce((a, b) => a * b, 1),
    ),
    shape,
    "float32",
  ),
);

describe("SIGINT", () => {
  it("stops a long suite after the current case and reports what was done (exit 130)", async () => {
    const manifest = join(dir, "long.json");
    // Thousands of small cases: seconds of work without large data.
    writeFileSync(
      manifest,
      JSON.stringify({
        cases: Array.from({ length: 4000 }, (_, i) => ({
          name: `case ${i}`,
          input: big,
          ref: big,
          expected: "mismatch",
        })),
      }),
    );
    const result = await interrupt(["suite", manifest, "--format", "json"], /progress 20\/4000 /);
    expect(result.signalled).toBe(true);
    expect(result.status).toBe(130);
    const report = JSON.parse(result.stdout);
    expect(report.cases.length).toBeGreaterThan(0);
    expect(report.summary.skipped).toBe(4000 - report.cases.length);
    expect(report.summary.skipped).toBeGreaterThan(0); // it stopped, rather than running to the end
    expect(report.cases.every((c: { status: string }) => c.status === "pass")).toBe(true);
    expect(result.stderr).toMatch(/interrupted/);
  });

  it("stops a long run without leaving an output or a temporary file (exit 130)", async () => {
    // 200,000 training steps of a tiny layer: seconds of work (each step is two passes) in 19 MB.
    const stepsInput = join(dir, "steps.npy");
    writeNpy(
      stepsInput,
      tensorFromArray(
        new Float32Array(200_000 * 2 * 3 * 2 * 2).map((_, i) => Math.sin(i)),
        [200_000, 2, 3, 2, 2],
        "float32",
      ),
    );
    const out = join(dir, "steps-out.npy");
    const result = await interrupt(["run", stepsInput, "-o", out, "--steps"], /progress step 2000\/200000/);
    expect(result.signalled).toBe(true);
    expect(result.status).toBe(130);
    expect(result.stderr).toMatch(/interrupted/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });
});

describe("a write that fails", () => {
  it("run -o past the file-size limit: exit 2, no partial file, inputs untouched", () => {
    const before = readFileSync(big);
    const out = join(dir, "too-big.npy");
    const run = spawnSync(
      "bash",
      ["-c", `ulimit -f 64; exec "${process.execPath}" "${BIN}" run "${big}" -o "${out}"`],
      { encoding: "utf8", env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" } },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /too-big\.npy: cannot be written \(file too large for this process's file-size limit\); nothing was written/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    expect(readFileSync(big).equals(before)).toBe(true);
  });

  it("--report into a missing directory: exit 2 and nothing written", () => {
    const report = join(dir, "no-such-dir", "out.xml");
    const run = spawnSync(
      process.execPath,
      [
        BIN,
        "compare",
        join(FIXTURES, "classic", "input.npy"),
        join(FIXTURES, "classic", "ref.npy"),
        "--format",
        "junit",
        "--report",
        report,
      ],
      {
        encoding: "utf8",
      },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/out\.xml: cannot be written \(the directory does not exist\); nothing was written/);
  });
});
