// Seeded fuzzing of the Polygraphy JSON reader: RunResults and feed-dict files mutated as JSON
// (classes, names, lists and arrays replaced by hostile values, keys renamed or deleted, deep
// nesting, many values, long strings), the .npy bytes inside an array's base64 changed, and the
// text flipped or cut. Every copy must end as tensors or an InputFileError naming the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { openPolygraphy } from "../../src/io/polygraphy.js";
import { FIXTURES } from "../helpers.js";
import { jsonMutation, mutateJson } from "./json-fuzz.js";

const work = mkdtempSync(join(tmpdir(), "bn-check-polygraphy-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SEEDS = ["results.json", "inputs.json", "single.json"].map((name) =>
  readFileSync(join(FIXTURES, "polygraphy", name), "utf8"),
);

function outcome(path: string): "read" | "refused" {
  try {
    const archive = openPolygraphy(path);
    let refused = false;
    for (const name of archive.names) {
      try {
        const tensor = archive.read(name);
        expect(tensor.data.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
      } catch (error) {
        if (!(error instanceof InputFileError)) throw error;
        expect(error.message).toContain(path);
        refused = true;
      }
    }
    return refused ? "refused" : "read";
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    expect(error.message).toContain(path);
    expect(error.message.split("\n")).toHaveLength(1);
    return "refused";
  }
}

/** Every base64 array in the text with byte `at` of its .npy bytes set to `value`. */
function mutateArrays(text: string, at: number, value: number): string {
  return text.replace(/"array": "([A-Za-z0-9+/=]+)"/g, (_, base64: string) => {
    const bytes = Buffer.from(base64, "base64");
    bytes[at % bytes.length] = value;
    return `"array": "${bytes.toString("base64")}"`;
  });
}

const change = fc.oneof(
  fc.record({ kind: fc.constant("json" as const), mutation: jsonMutation }),
  fc.record({ kind: fc.constant("npy" as const), at: fc.nat({ max: 200 }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
);

describe("fuzzing the Polygraphy reader", () => {
  it("every mutated document, .npy inside it, flipped byte or cut ends as tensors or one named error", () => {
    const path = join(work, "fuzz.json");
    const counts = { read: 0, refused: 0 };
    const numRuns = Number(process.env.FUZZ_RUNS ?? 800);
    fc.assert(
      fc.property(fc.nat({ max: SEEDS.length - 1 }), change, (seed, c) => {
        const text = SEEDS[seed];
        let bytes: Buffer;
        if (c.kind === "json") bytes = Buffer.from(mutateJson(JSON.parse(text), c.mutation));
        else if (c.kind === "npy") bytes = Buffer.from(mutateArrays(text, c.at, c.value));
        else {
          bytes = Buffer.from(text);
          if (c.kind === "byte") bytes[c.at % bytes.length] = c.value;
          else bytes = bytes.subarray(0, c.at % (bytes.length + 1));
        }
        writeFileSync(path, bytes);
        counts[outcome(path)]++;
      }),
      { numRuns, seed: Number(process.env.FUZZ_SEED ?? 20261204) },
    );
    console.log(`polygraphy fuzz: ${counts.read} read, ${counts.refused} refused`);
    expect(counts.read + counts.refused).toBe(numRuns);
    expect(counts.refused).toBeGreaterThan(numRuns / 10);
    expect(counts.read).toBeGreaterThan(numRuns / 20);
  }, 120_000);
});
