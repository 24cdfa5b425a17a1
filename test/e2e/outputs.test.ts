// The output rules through the binary: an input is never an output, special files are written in
// place (never replaced), a command's outputs are all written or none, and usage errors are one line.
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tensorFromArray } from "../../src/core/tensor.js";
import { writeNpy } from "../../src/io/npy/write-npy.js";
import { BIN, FIXTURES, ROOT, runCli } from "../helpers.js";

const classic = [join(FIXTURES, "classic", "input.npy"), join(FIXTURES, "classic", "ref.npy")];
const dir = mkdtempSync(join(tmpdir(), "bn-check-outputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function copyOf(path: string, name: string): string {
  const target = join(dir, name);
  writeFileSync(target, readFileSync(path));
  return target;
}

describe("--report follows the output rules", () => {
  it("refuses to write the report over an input, and leaves the input as it was", () => {
    const input = copyOf(classic[0], "input-as-report.npy");
    const before = readFileSync(input);
    const run = runCli(["compare", input, classic[1], "--report", input]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`bn-check: ${input}: is one of the inputs; bn-check never overwrites an input\n`);
    expect(readFileSync(input).equals(before)).toBe(true);
  });

  it("a symlink to an input is the input", () => {
    const input = copyOf(classic[0], "linked-input.npy");
    const link = join(dir, "link-to-input.json");
    symlinkSync(input, link);
    const run = runCli(["compare", input, classic[1], "--report", link]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/is one of the inputs/);
  });

  it("writes to /dev/null in place and leaves it a device", () => {
    const run = runCli(["compare", ...classic, "--format", "json", "--report", "/dev/null"]);
    expect(run.status).toBe(0);
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
  });

  it("writes through a symlink to a special file without replacing the link", () => {
    const link = join(dir, "null-link.json");
    symlinkSync("/dev/null", link);
    const run = runCli(["compare", ...classic, "--report", link]);
    expect(run.status).toBe(0);
    expect(statSync(link).isCharacterDevice()).toBe(true);
  });
});

describe("run writes all of its outputs or none", () => {
  it("a missing directory for the last output: refused before any work, nothing written", () => {
    const y = join(dir, "y.npy");
    const mean = join(dir, "rm.npy");
    const run = runCli([
      "run",
      classic[0],
      "-o",
      y,
      "--save-running-mean",
      mean,
      "--save-running-var",
      join(dir, "missing", "rv.npy"),
    ]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/rv\.npy: cannot be written \(the directory does not exist\); nothing was written\n$/);
    expect(existsSync(y)).toBe(false);
    expect(existsSync(mean)).toBe(false);
  });

  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    it(`${signal} while writing leaves neither the output nor a temporary file (exit ${code})`, async () => {
      const big = join(dir, "big.npy");
      writeNpy(
        big,
        tensorFromArray(
          new Float32Array(4 * 16 * 512 * 512).map((_, i) => (i % 97) / 7),
          [4, 16, 512, 512],
          "float32",
        ),
      );
      const outDir = join(dir, `out-${signal}`);
      mkdirSync(outDir);
      const out = join(outDir, "y.npy");
      const status = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [BIN, "run", big, "-o", out, "--dtype", "float64"], { cwd: ROOT });
        // Signal once the temporary file appears: the write has started.
        const poll = setInterval(() => {
          if (readdirSync(outDir).some((name) => name.endsWith(".tmp"))) {
            clearInterval(poll);
            child.kill(signal);
          }
        }, 1);
        child.on("close", (exitCode, ended) => {
          clearInterval(poll);
          resolve(exitCode ?? (ended === signal ? code : null));
        });
      });
      expect(status).toBe(code);
      expect(readdirSync(outDir)).toEqual([]);
    });
  }

  it("the same run, uninterrupted, writes its output and nothing else", () => {
    const big = join(dir, "big.npy");
    const outDir = join(dir, "out-complete");
    mkdirSync(outDir);
    const run = runCli(["run", big, "-o", join(outDir, "y.npy"), "--dtype", "float64"]);
    expect(run.status).toBe(0);
    expect(readdirSync(outDir)).toEqual(["y.npy"]);
  });
});

describe("usage errors", () => {
  it("a missing argument is one line naming it (exit 2)", () => {
    const run = runCli(["compare"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe("bn-check: missing required argument 'input' (see --help)\n");
  });

  it("no command prints the help on stderr and exits 2", () => {
    const run = runCli([]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^Usage: bn-check \[options\] \[command\]/);
  });

  it("detect on a 1-D input says what is wrong (exit 2)", () => {
    const oneD = join(dir, "one-d.npy");
    writeNpy(oneD, tensorFromArray([1, 2, 3, 4], [4], "float32"));
    const run = runCli(["detect", oneD, oneD]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      "bn-check: BatchNorm needs an input of rank >= 2 (batch and channel axes); got shape [4]\n",
    );
  });
});
