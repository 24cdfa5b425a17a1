// Seeded fuzzing of the .h5/.keras reader where hostile files hurt: the numbers HDF5 structures
// hold. Words and addresses are overwritten at aligned offsets with the values that broke readers
// before (0, 1, 2^31 − 1, 2^32 − 1, the undefined address, the file's length, another structure's
// offset), in chunked, deflated, shuffled and fletcher32 datasets, Keras 2 names (fixed-length
// strings) and a .keras archive. Every copy must end as tensors that the file can back or an
// InputFileError naming the file; a hang or a runaway allocation fails the suite by its timeout.
// FUZZ_RUNS and FUZZ_SEED run it longer or elsewhere by hand (15,000 runs found nothing).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { unzipSync, zipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { openKeras } from "../../src/io/keras.js";
import { FIXTURES } from "../helpers.js";

const DIR = join(FIXTURES, "keras");
const work = mkdtempSync(join(tmpdir(), "bn-check-hdf5-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Deflate's largest expansion: no tensor may hold more bytes than 1032x the file. */
const MAX_DEFLATE_RATIO = 1032;

/**
 * Opens the file and reads every variable: "read" when all of them read (or are refused only for
 * their dtype), "refused" when the file or one of its variables is refused with an InputFileError.
 */
function outcome(path: string, fileBytes: number): "read" | "refused" {
  try {
    const archive = openKeras(path);
    let bytes = 0;
    let refused = false;
    for (const name of archive.names) {
      try {
        const tensor = archive.read(name);
        expect(tensor.data.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
        bytes += tensor.data.byteLength;
      } catch (error) {
        if (!(error instanceof InputFileError)) throw error;
        expect(error.message).toContain(path);
        expect(error.message.split("\n")).toHaveLength(1);
        // layouts.h5 holds datasets refused by design (chunks never written, lzf, a null dataspace).
        if (!/is a dataset of (u?int|strings)|chunks written|lzf|null dataspace/.test(error.message)) refused = true;
      }
    }
    expect(bytes).toBeLessThanOrEqual(MAX_DEFLATE_RATIO * fileBytes);
    return refused ? "refused" : "read";
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    expect(error.message.split("\n")).toHaveLength(1);
    return "refused";
  }
}

/** One overwrite: a 32-bit word, a 64-bit address, or a byte, at a position in the file. */
const change = fc.oneof(
  fc.record({
    kind: fc.constant("word" as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, "length" as const),
  }),
  fc.record({
    kind: fc.constant("address" as const),
    at: fc.nat(),
    value: fc.constantFrom("undefined" as const, "beyond" as const, "other" as const),
    other: fc.nat(),
  }),
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  // A word in the 96 bytes after a structure's signature (B-tree nodes, heaps, symbol tables):
  // most of a file is data, where a change is only a different value.
  fc.record({
    kind: fc.constant("structure" as const),
    which: fc.nat(),
    delta: fc.nat({ max: 95 }),
    value: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x10000),
  }),
);
type Change = typeof change extends fc.Arbitrary<infer T> ? T : never;

const SIGNATURES = ["TREE", "HEAP", "SNOD", "GCOL", "OHDR", "BTHD", "FRHP"].map((text) => Buffer.from(text, "latin1"));

function structureOffsets(bytes: Uint8Array): number[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  for (const signature of SIGNATURES)
    for (let at = buffer.indexOf(signature); at >= 0; at = buffer.indexOf(signature, at + 1)) offsets.push(at);
  return offsets.length > 0 ? offsets.sort((a, b) => a - b) : [0];
}

function applyAll(original: Uint8Array, changes: readonly Change[]): Uint8Array {
  const bytes = original.slice();
  const view = new DataView(bytes.buffer);
  const structures = structureOffsets(original);
  for (const c of changes) {
    if (c.kind === "byte") bytes[c.at % bytes.length] = c.value;
    else if (c.kind === "structure") {
      const at = Math.min(structures[c.which % structures.length] + c.delta, bytes.length - 4);
      view.setUint32(at, c.value, true);
    } else if (c.kind === "word")
      view.setUint32((c.at % (bytes.length >> 2)) << 2, c.value === "length" ? bytes.length : c.value, true);
    else {
      const at = (c.at % (bytes.length >> 3)) << 3;
      const value =
        c.value === "undefined"
          ? 2n ** 64n - 1n
          : c.value === "beyond"
            ? BigInt(bytes.length + 8)
            : BigInt(c.other % bytes.length);
      view.setBigUint64(at, value, true);
    }
  }
  return bytes;
}

describe("fuzzing the HDF5 structures", () => {
  for (const [file, runs] of [
    ["chunked-8-gzip.h5", 300],
    ["chunked-8-fletcher.h5", 150],
    ["layouts.h5", 300],
    ["keras2-model.h5", 200],
    ["compressed.weights.h5", 150],
  ] as const) {
    it(`${file}: every copy with words, addresses or bytes overwritten ends as backed tensors or one named error`, () => {
      const original = new Uint8Array(readFileSync(join(DIR, file)));
      const path = join(work, `fuzz-${file}`);
      const counts = { read: 0, refused: 0 };
      const numRuns = Number(process.env.FUZZ_RUNS ?? runs);
      fc.assert(
        fc.property(fc.array(change, { minLength: 1, maxLength: 3 }), (changes) => {
          const bytes = applyAll(original, changes);
          writeFileSync(path, bytes);
          counts[outcome(path, bytes.length)]++;
        }),
        // Unbiased: fast-check otherwise favours small offsets (the superblock), which refuse early.
        { numRuns, seed: Number(process.env.FUZZ_SEED ?? 20261204), unbiased: true },
      );
      console.log(`hdf5 fuzz ${file}: ${counts.read} read, ${counts.refused} refused`);
      expect(counts.read + counts.refused).toBe(numRuns);
      expect(counts.refused).toBeGreaterThan(numRuns / 20);
      expect(counts.read).toBeGreaterThan(numRuns / 20);
    }, 60_000);
  }

  it("keras3-model.keras with its weights member changed so, re-zipped (a change in place only fails the zip's CRC)", () => {
    const members = unzipSync(readFileSync(join(DIR, "keras3-model.keras")));
    const weights = members["model.weights.h5"];
    const path = join(work, "fuzz.keras");
    const counts = { read: 0, refused: 0 };
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 2 }), fc.boolean(), (changes, deflate) => {
        const changed = applyAll(weights, changes);
        const bytes = zipSync({
          ...Object.fromEntries(Object.entries(members).map(([k, v]) => [k, [v, { level: 0 }]])),
          "model.weights.h5": [changed, { level: deflate ? 6 : 0 }],
        } as Parameters<typeof zipSync>[0]);
        writeFileSync(path, bytes);
        counts[outcome(path, changed.length)]++;
      }),
      { numRuns: 150, seed: 20261204, unbiased: true },
    );
    console.log(`hdf5 fuzz keras3-model.keras: ${counts.read} read, ${counts.refused} refused`);
    expect(counts.read).toBeGreaterThan(10);
    expect(counts.refused).toBeGreaterThan(10);
  }, 60_000);
});
