import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const FIXTURES = join(ROOT, "fixtures");
export const BIN = join(ROOT, "bin", "bn-check.cjs");

/** A seeded generator (mulberry32) so that random tests reproduce from their seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a seeded generator. */
export function normals(random: () => number, count: number, mean = 0, std = 1): number[] {
  const values: number[] = [];
  while (values.length < count) {
    const u = 1 - random();
    const v = random();
    values.push(mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return values;
}

export interface CliRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI as a user would, with NO_COLOR and a minimal environment. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): CliRun {
  const run = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", NO_COLOR: "1", ...env },
    timeout: 60_000,
    // A suite's JSON report runs to megabytes (spawnSync's default buffer is 1 MiB).
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/**
 * A Python interpreter with numpy (Debian's first, as the brief says). Where there is none the numpy
 * cross-checks are skipped, and say so on stderr; under CI (CI=true, where .ci/run installs
 * python3-numpy) a missing one is a failure, never a silent skip.
 */
export function pythonWithNumpy(what = "a numpy cross-check"): string | null {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(candidate, ["-c", "import numpy"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  if (process.env.CI === "true")
    throw new Error(`${what} needs python3 with numpy, which CI installs (.ci/run): it is missing`);
  process.stderr.write(`skipped: ${what} (no python3 with numpy on this machine)\n`);
  return null;
}

/**
 * `compare` arguments for one BatchNorm layer whose parameters come from `param(key)` (key: weight,
 * bias, running_mean, running_var): the readers' CLI tests check a real layer from their archives.
 */
export function layerCompareArgs(
  input: string,
  reference: string,
  mode: string,
  param: (key: string) => string,
): string[] {
  return [
    "compare",
    input,
    reference,
    "--mode",
    mode,
    "--weight",
    param("weight"),
    "--bias",
    param("bias"),
    "--running-mean",
    param("running_mean"),
    "--running-var",
    param("running_var"),
    "--format",
    "json",
  ];
}
