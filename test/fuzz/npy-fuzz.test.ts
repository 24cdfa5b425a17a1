// Seeded fuzzing of the .npy path: thousands of mutated and truncated files derived from valid ones.
// Every one must end as a check (exit 0/1) or a named input error (exit 2): never another exception,
// a hang or an allocation the file cannot back. The outcome counts and the slowest case are printed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batchNorm } from "../../src/check/batch-norm.js";
import { checkBatchNorm } from "../../src/check/check.js";
import { BnCheckError } from "../../src/core/errors.js";
import { parseNpyBytes } from "../../src/io/npy/read-npy.js";
import { BIN, FIXTURES } from "../helpers.js";

const SEEDS = [
  "npy/f32-le.npy",
  "npy/f32-be.npy",
  "npy/f64-fortran.npy",
  "npy/f16-le.npy",
  "npy/f32-v2.npy",
  "classic/input.npy",
  "corpus/cpu/pt-cpu-bn1d-f32-nc-train/input.npy",
].map((path) => new Uint8Array(readFileSync(join(FIXTURES, path))));

/** One mutation of a valid file: the kinds of damage real files suffer, and header edits. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant("headerByte" as const),
    at: fc.nat({ max: 127 }),
    value: fc.constantFrom(...Array.from("(),:'\" -0123456789<>|fiucbTFL{}\\x\n\0").map((c) => c.charCodeAt(0))),
  }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant("lengthField" as const), value: fc.nat({ max: 0xffff }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case "truncate":
      return bytes.slice(0, m.at % (bytes.length + 1));
    case "flip": {
      const copy = bytes.slice();
      copy[m.at % copy.length] ^= m.bits;
      return copy;
    }
    case "headerByte": {
      const copy = bytes.slice();
      copy[10 + (m.at % Math.max(1, Math.min(118, copy.length - 10)))] = m.value;
      return copy;
    }
    case "append":
      return Uint8Array.from([...bytes, ...m.bytes]);
    case "insert": {
      const at = m.at % (bytes.length + 1);
      return Uint8Array.from([...bytes.slice(0, at), ...m.bytes, ...bytes.slice(at)]);
    }
    case "lengthField": {
      const copy = bytes.slice();
      copy[8] = m.value & 0xff;
      copy[9] = m.value >> 8;
      return copy;
    }
  }
}

/** The exit code the CLI would give: 0/1 for a completed check, 2 for a named error. */
async function outcomeOf(bytes: Uint8Array, againstOwnOutput: boolean): Promise<{ code: number; message: string }> {
  try {
    const tensor = parseNpyBytes(bytes, "fuzz.npy");
    // Against bn-check's own output the check should conform; against the input it should not.
    const reference = againstOwnOutput ? (await batchNorm({ input: tensor }, { threads: 1 })).output : tensor;
    const result = await checkBatchNorm({ input: tensor, reference }, { threads: 1, equalNan: true });
    return { code: result.conforms ? 0 : 1, message: result.conforms ? "conforms" : "does not conform" };
  } catch (error) {
    if (error instanceof BnCheckError) return { code: 2, message: error.message };
    throw error; // anything else is a crash: the property fails with the seed
  }
}

describe("fuzzing the .npy reader and the check behind it", () => {
  it("ends every mutated file with exit 0, 1 or 2 and a message", async () => {
    const counts = { 0: 0, 1: 0, 2: 0 } as Record<number, number>;
    let slowest = { ms: 0, description: "" };
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: SEEDS.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        async (seedIndex, mutations) => {
          const bytes = mutations.reduce(apply, SEEDS[seedIndex]);
          const started = performance.now();
          const outcome = await outcomeOf(bytes, tried % 2 === 0);
          const ms = performance.now() - started;
          tried++;
          counts[outcome.code]++;
          if (ms > slowest.ms) slowest = { ms, description: `${outcome.code}: ${outcome.message}` };
          expect(outcome.message.length).toBeGreaterThan(0);
          if (outcome.code === 2) expect(outcome.message).not.toMatch(/\n/);
        },
      ),
      { seed: 424242, numRuns: 4000 },
    );
    console.log(
      `fuzz: ${tried} files; exit 0: ${counts[0]}, exit 1: ${counts[1]}, exit 2: ` +
        `${counts[2]}; slowest ${slowest.ms.toFixed(1)} ms (${slowest.description})`,
    );
    expect(tried).toBe(4000);
    expect(counts[2]).toBeGreaterThan(1000);
    expect(counts[0]).toBeGreaterThan(50);
    expect(counts[1]).toBeGreaterThan(50);
  }, 60_000);

  it("the real binary gives one line and exit 2 on damaged files, never an internal error", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-fuzz-"));
    const samples = fc.sample(fc.tuple(fc.nat({ max: SEEDS.length - 1 }), mutation), { seed: 7, numRuns: 25 });
    for (const [k, [seedIndex, m]] of samples.entries()) {
      const path = join(dir, `case-${k}.npy`);
      writeFileSync(path, apply(SEEDS[seedIndex], m));
      const run = spawnSync(process.execPath, [BIN, "compare", path, path, "--equal-nan"], {
        encoding: "utf8",
        timeout: 20_000,
        env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" },
      });
      expect([0, 1, 2]).toContain(run.status);
      expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
      if (run.status === 2) expect(run.stderr).toMatch(new RegExp(`^bn-check: (${path}: )?.+\\n$`));
    }
  }, 60_000);
});
