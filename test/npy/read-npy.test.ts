import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { parseNpyBytes, readNpy, readNpyAsync } from "../../src/io/npy/read-npy.js";
import { readTensorsConcurrently } from "../../src/io/read-tensor.js";
import { FIXTURES, readJson } from "../helpers.js";

interface Expected {
  files: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
}
const NPY = join(FIXTURES, "npy");
const expected = readJson<Expected>(join(NPY, "expected.json"));
const asNumber = (v: number | string) =>
  typeof v === "number" ? v : v === "nan" ? NaN : v === "inf" ? Infinity : -Infinity;

describe("readNpy on files written by numpy", () => {
  for (const [name, want] of Object.entries(expected.files)) {
    it(`reads ${name} as the logical array numpy shows`, () => {
      const tensor = readNpy(join(NPY, name));
      expect(tensor.dtype).toBe(want.dtype);
      expect(tensor.shape).toEqual(want.shape);
      expect(Array.from(tensor.data)).toEqual(want.values.map(asNumber));
      expect(tensor.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    });
  }

  it("big-endian and Fortran-order files hold the same values as the little-endian C-order original", () => {
    const base = Array.from(readNpy(join(NPY, "f32-le.npy")).data);
    expect(Array.from(readNpy(join(NPY, "f32-be.npy")).data)).toEqual(base);
    expect(Array.from(readNpy(join(NPY, "f32-fortran-be.npy")).data)).toEqual(base);
  });
});

describe("readNpy refuses what it cannot use, naming the file", () => {
  const refusals: [string, RegExp][] = [
    ["i32.npy", /i32\.npy: integer dtype '<i4' is not supported/],
    ["bool.npy", /bool\.npy: boolean dtype '\|b1' is not supported/],
    ["c64.npy", /c64\.npy: complex dtype '<c8' is not supported/],
    ["str.npy", /str\.npy: unicode string dtype '<U2' is not supported/],
    ["obj.npy", /obj\.npy: Python object dtype '\|O' is not supported/],
  ];
  for (const [name, message] of refusals) {
    it(`refuses ${name}`, () => {
      expect(() => readNpy(join(NPY, name))).toThrow(message);
    });
  }

  const valid = readFileSync(join(NPY, "f32-le.npy"));
  const dataStart = 10 + valid.readUInt16LE(8);
  const bytesOf = (edit: (copy: Buffer) => Buffer) => new Uint8Array(edit(Buffer.from(valid)));
  const withHeader = (dict: string) => {
    const text = `${dict.padEnd(118, " ")}\n`;
    const header = Buffer.alloc(10);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(header);
    header.writeUInt16LE(text.length, 8);
    return new Uint8Array(Buffer.concat([header, Buffer.from(text, "latin1"), valid.subarray(dataStart)]));
  };
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "a truncated data section",
      bytesOf((b) => b.subarray(0, b.length - 4)),
      /data is truncated: shape \(2, 3, 4\) of float32 needs 96 bytes, the file has 92/,
    ],
    ["trailing bytes", bytesOf((b) => Buffer.concat([b, Buffer.alloc(8)])), /has 8 trailing bytes after the data/],
    [
      "a wrong magic string",
      bytesOf((b) => {
        b.write("XNUMPY", 0, "latin1");
        return b;
      }),
      /is not a \.npy file/,
    ],
    [
      "an unknown version",
      bytesOf((b) => {
        b[6] = 9;
        return b;
      }),
      /unknown \.npy format version 9\.0/,
    ],
    [
      "a header longer than the file",
      bytesOf((b) => {
        b.writeUInt16LE(60000, 8);
        return b;
      }),
      /header claims 60000 bytes/,
    ],
    [
      "a header that is not a dict literal",
      withHeader("__import__('os').system('true')"),
      /header is not a valid dict literal/,
    ],
    ["a missing key", withHeader("{'descr': '<f4', 'shape': (2, 3, 4), }"), /missing 'fortran_order'/],
    [
      "a negative dimension",
      withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3, 4), }"),
      /invalid dimension -2/,
    ],
    [
      "a non-integer dimension",
      withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': ('a', 3), }"),
      /invalid dimension "a"/,
    ],
    [
      "a shape far larger than the data",
      withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"),
      /data is truncated: shape \(1000000000000\) of float32 needs 4000000000000 bytes/,
    ],
    [
      "an element count that overflows",
      withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
      /more elements than can be addressed/,
    ],
  ];
  for (const [what, bytes, message] of cases) {
    it(`refuses ${what}`, () => {
      let error: unknown;
      try {
        parseNpyBytes(bytes, "case.npy");
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InputFileError);
      expect((error as Error).message).toMatch(/^case\.npy: /);
      expect((error as Error).message).toMatch(message);
    });
  }

  it("refuses a missing file, a directory and an empty file", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-"));
    mkdirSync(join(dir, "sub.npy"));
    writeFileSync(join(dir, "empty.npy"), "");
    expect(() => readNpy(join(dir, "nope.npy"))).toThrow(/nope\.npy: no such file/);
    expect(() => readNpy(join(dir, "sub.npy"))).toThrow(/sub\.npy: is a directory/);
    expect(() => readNpy(join(dir, "empty.npy"))).toThrow(/empty\.npy: is empty/);
  });

  it("refuses a FIFO without blocking on it", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-"));
    const fifo = join(dir, "pipe.npy");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    expect(() => readNpy(fifo)).toThrow(/pipe\.npy: is not a regular file \(a FIFO, socket or device cannot be read\)/);
  });
});

describe("readNpyAsync and readTensorsConcurrently (compare reads its two large files side by side)", () => {
  it("read every fixture as readNpy does, into shared memory", async () => {
    for (const name of Object.keys(expected.files)) {
      const sync = readNpy(join(NPY, name));
      const async = await readNpyAsync(join(NPY, name));
      expect(async.dtype).toBe(sync.dtype);
      expect(async.shape).toEqual(sync.shape);
      expect(Array.from(async.data)).toEqual(Array.from(sync.data));
      expect(async.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
  });

  it("reject with readNpy's one-line errors, and report the first failing file in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-async-"));
    const valid = readFileSync(join(NPY, "f32-le.npy"));
    writeFileSync(join(dir, "truncated.npy"), valid.subarray(0, valid.length - 4));
    await expect(readNpyAsync(join(dir, "truncated.npy"))).rejects.toThrow(
      /truncated\.npy: data is truncated: shape \(2, 3, 4\) of float32 needs 96 bytes, the file has 92/,
    );
    await expect(readNpyAsync(join(dir, "missing.npy"))).rejects.toThrow(/missing\.npy: no such file/);
    const both = readTensorsConcurrently([join(dir, "truncated.npy"), join(dir, "missing.npy")]);
    await expect(both).rejects.toBeInstanceOf(InputFileError);
    await expect(readTensorsConcurrently([join(dir, "truncated.npy"), join(dir, "missing.npy")])).rejects.toThrow(
      /truncated\.npy/,
    );
    await expect(readTensorsConcurrently([join(NPY, "f32-le.npy"), join(dir, "missing.npy")])).rejects.toThrow(
      /missing\.npy: no such file/,
    );
    const [a, none, b] = await readTensorsConcurrently([
      join(NPY, "f32-le.npy"),
      undefined,
      join(NPY, "f64-fortran.npy"),
    ]);
    expect(none).toBeUndefined();
    expect(Array.from(a!.data)).toEqual(Array.from(readNpy(join(NPY, "f32-le.npy")).data));
    expect(b!.dtype).toBe("float64");
  });
});
