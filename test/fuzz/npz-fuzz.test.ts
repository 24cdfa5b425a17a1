// The .npz (zip) reader against mutated, truncated and lying archives: every one ends as a tensor or
// a named input error, never another exception or an allocation the archive cannot back; and the
// specific lies the issue found (a zip64 record claiming 10^12 entries, a wrong CRC-32, the
// encrypted flag, a directory that understates a member's size) are refused with a message.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { zipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { BnCheckError } from "../../src/core/errors.js";
import { readNpz } from "../../src/io/npz.js";
import { encodeNpy, encodeNpyHeader } from "../../src/io/npy/write-npy.js";
import { tensorFromArray } from "../../src/core/tensor.js";
import { runCli } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "bn-check-npz-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const a = encodeNpy(
  tensorFromArray(
    Float32Array.from({ length: 48 }, (_, i) => i / 7),
    [4, 3, 2, 2],
    "float32",
  ),
);
const b = encodeNpy(tensorFromArray([1, 2, 3], [3], "float64"));
const seeds = [
  zipSync({ "a.npy": a, "b.npy": b }, { level: 6 }),
  zipSync({ "a.npy": a }, { level: 0 }),
  zipSync({ "x.npy": b, "y.npy": a }, { level: 9 }),
];

function writeArchive(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function outcome(path: string, member?: string): string {
  try {
    const tensor = readNpz(path, member);
    return `tensor ${tensor.dtype} [${tensor.shape.join(", ")}]`;
  } catch (error) {
    if (error instanceof BnCheckError) return `error ${error.message}`;
    throw error;
  }
}

/** Offsets of the central directory entry of `name` and of the end record, read from a valid archive. */
function locate(bytes: Uint8Array, name: string): { central: number; eocd: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = bytes.length - 22;
  let at = view.getUint32(eocd + 16, true);
  for (;;) {
    const nameLength = view.getUint16(at + 28, true);
    if (new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength)) === name) return { central: at, eocd };
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
}

describe("lying and damaged archives", () => {
  it("a zip64 record claiming 10^12 entries is refused at once", () => {
    const bytes = seeds[0];
    const { eocd } = locate(bytes, "a.npy");
    const record = new Uint8Array(56);
    const rv = new DataView(record.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(32, 10n ** 12n, true);
    rv.setBigUint64(40, 10n ** 6n, true);
    const locator = new Uint8Array(20);
    const lv = new DataView(locator.buffer);
    lv.setUint32(0, 0x07064b50, true);
    lv.setBigUint64(8, BigInt(eocd), true);
    const lying = Uint8Array.from([...bytes.slice(0, eocd), ...record, ...locator, ...bytes.slice(eocd)]);
    expect(outcome(writeArchive("zip64.npz", lying), "a")).toMatch(
      /zip64\.npz: is not a readable \.npz \(zip\) archive: its zip64 record claims 1000000000000 entries/,
    );
  });

  it("a wrong CRC-32 is refused, as numpy refuses it", () => {
    const bytes = seeds[1].slice();
    const { central } = locate(bytes, "a.npy");
    new DataView(bytes.buffer).setUint32(central + 16, 0xdeadbeef, true);
    expect(outcome(writeArchive("crc.npz"), "a")).toMatch(
      /member a\.npy: fails its CRC-32 check .* the archive is damaged$/,
    );

    function writeArchive(name: string): string {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    }
  });

  it("the encrypted flag is refused", () => {
    const bytes = seeds[1].slice();
    const { central } = locate(bytes, "a.npy");
    const view = new DataView(bytes.buffer);
    view.setUint16(central + 8, view.getUint16(central + 8, true) | 1, true);
    expect(outcome(writeArchive("encrypted.npz", bytes), "a")).toMatch(/member a\.npy: is encrypted/);
  });

  it("a directory that understates a member's size is refused, not truncated", () => {
    const bytes = seeds[0].slice();
    const { central } = locate(bytes, "a.npy");
    const view = new DataView(bytes.buffer);
    view.setUint32(central + 24, view.getUint32(central + 24, true) - 16, true);
    expect(outcome(writeArchive("short.npz", bytes), "a")).toMatch(
      /(inflates to more than the \d+ bytes|its \.npy header describes \d+ bytes; the zip directory states \d+)/,
    );
  });

  it("a member whose header and directory claim 2 GiB from a few hundred deflated bytes is refused from the directory, through the CLI: exit 2, one line", () => {
    // rank 1, 2^29 float32 values: what the header claims; 64 real bytes follow it.
    const header = encodeNpyHeader("float32", [2 ** 29]);
    const member = new Uint8Array(header.length + 64);
    member.set(header);
    const bytes = zipSync({ "a.npy": [member, { level: 9 }] });
    const { central } = locate(bytes, "a.npy");
    const view = new DataView(bytes.buffer);
    view.setUint32(central + 24, header.length + 2 ** 31, true);
    view.setUint32(22, header.length + 2 ** 31, true); // the local header's copy
    const path = writeArchive("claims-2gib.npz", bytes);
    const run = runCli(["diff", `${path}:a`, `${path}:a`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^bn-check: \S*claims-2gib\.npz:a: its zip directory claims 2,147,483,\d{3} bytes from \d+ deflated: more than deflate can hold \(1032x\)\n$/,
    );
  });

  it("reads only the member asked for: a damaged neighbour does not matter", () => {
    const bytes = seeds[0].slice();
    const { central } = locate(bytes, "b.npy");
    new DataView(bytes.buffer).setUint32(central + 16, 0, true); // b's CRC is wrong
    expect(outcome(writeArchive("neighbour.npz", bytes), "a")).toBe("tensor float32 [4, 3, 2, 2]");
    expect(outcome(join(dir, "neighbour.npz"), "b")).toMatch(/member b\.npy: fails its CRC-32 check/);
  });
});

describe("fuzzing the .npz reader", () => {
  it("ends every mutated or truncated archive as a tensor or a named error", () => {
    const counts = { tensor: 0, error: 0 };
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.oneof(
          fc.record({ kind: fc.constant("truncate"), at: fc.nat() }),
          fc.record({ kind: fc.constant("flip"), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
          fc.record({
            kind: fc.constant("word"),
            at: fc.nat(),
            value: fc.constantFrom(0, 0xffffffff, 0x7fffffff, 1, 46),
          }),
        ),
        (seed, m) => {
          const bytes = seeds[seed].slice();
          let mutated: Uint8Array;
          if (m.kind === "truncate") mutated = bytes.slice(0, m.at % (bytes.length + 1));
          else if (m.kind === "flip") {
            bytes[m.at % bytes.length] ^= m.bits;
            mutated = bytes;
          } else {
            const at = m.at % Math.max(1, bytes.length - 4);
            new DataView(bytes.buffer).setUint32(at, m.value, true);
            mutated = bytes;
          }
          const path = writeArchive("fuzz.npz", mutated.length > 0 ? mutated : Uint8Array.of(0));
          for (const member of seed === 2 ? ["x", "y"] : ["a"]) {
            const result = outcome(path, member);
            counts[result.startsWith("tensor") ? "tensor" : "error"]++;
            if (result.startsWith("error")) expect(result).toMatch(/fuzz\.npz/);
          }
        },
      ),
      { seed: 4242, numRuns: 1500 },
    );
    console.log(`npz fuzz: ${counts.tensor} read, ${counts.error} refused with a named error`);
    expect(counts.error).toBeGreaterThan(100);
    expect(counts.tensor).toBeGreaterThan(10);
  });
});
