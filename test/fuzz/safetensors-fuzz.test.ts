// Seeded fuzzing of the safetensors reader: headers mutated as JSON (sizes, offsets, dtypes and
// shapes replaced by hostile values, keys renamed or deleted, deep nesting, many values, long
// strings), the 8-byte header length lied about, and bytes flipped or cut anywhere. Every copy must
// end as tensors its data can back or an InputFileError naming the file, in one line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { openSafetensors } from "../../src/io/safetensors.js";
import { FIXTURES } from "../helpers.js";
import { jsonMutation, mutateJson } from "./json-fuzz.js";

const work = mkdtempSync(join(tmpdir(), "bn-check-safetensors-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SEEDS = ["mixed.safetensors", "bn-params.safetensors", "bn-acts.safetensors"].map((name) => {
  const bytes = readFileSync(join(FIXTURES, "safetensors", name));
  const length = Number(bytes.readBigUInt64LE(0));
  return {
    header: JSON.parse(bytes.subarray(8, 8 + length).toString("utf8")) as unknown,
    data: bytes.subarray(8 + length),
  };
});

function outcome(path: string, dataBytes: number): "read" | "refused" {
  try {
    const archive = openSafetensors(path);
    let refused = false;
    for (const name of archive.names) {
      try {
        const tensor = archive.read(name);
        expect(tensor.data.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
        // float16/bfloat16 are held in float32: at most twice the stored bytes.
        expect(tensor.data.byteLength).toBeLessThanOrEqual(2 * dataBytes);
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

const change = fc.oneof(
  fc.record({ kind: fc.constant("json" as const), mutation: jsonMutation }),
  fc.record({ kind: fc.constant("length" as const), delta: fc.integer({ min: -16, max: 16 }), huge: fc.boolean() }),
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
);

describe("fuzzing the safetensors reader", () => {
  it("every mutated header, lying length, flipped byte or cut ends as backed tensors or one named error", () => {
    const path = join(work, "fuzz.safetensors");
    const counts = { read: 0, refused: 0 };
    const numRuns = Number(process.env.FUZZ_RUNS ?? 1000);
    fc.assert(
      fc.property(fc.nat({ max: SEEDS.length - 1 }), change, (seed, c) => {
        const { header, data } = SEEDS[seed];
        let text = Buffer.from(c.kind === "json" ? mutateJson(header, c.mutation) : JSON.stringify(header));
        let length = BigInt(text.length);
        if (c.kind === "length")
          length = c.huge ? 2n ** 63n + BigInt(c.delta) : BigInt(Math.max(0, text.length + c.delta));
        const prefix = Buffer.alloc(8);
        prefix.writeBigUInt64LE(length);
        let bytes = Buffer.concat([prefix, text, data]);
        if (c.kind === "byte") bytes[c.at % bytes.length] = c.value;
        if (c.kind === "cut") bytes = bytes.subarray(0, c.at % (bytes.length + 1));
        text = Buffer.alloc(0);
        writeFileSync(path, bytes);
        counts[outcome(path, data.length)]++;
      }),
      { numRuns, seed: Number(process.env.FUZZ_SEED ?? 20261204) },
    );
    console.log(`safetensors fuzz: ${counts.read} read, ${counts.refused} refused`);
    expect(counts.read + counts.refused).toBe(numRuns);
    expect(counts.refused).toBeGreaterThan(numRuns / 10);
    expect(counts.read).toBeGreaterThan(numRuns / 20);
  }, 120_000);
});
