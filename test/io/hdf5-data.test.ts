// The HDF5 dataset reader (src/io/hdf5-data.ts) on files h5py wrote (fixtures/generate_hdf5_layouts.py):
// every layout and filter read to the values h5py stored, and each hostile class built here by
// patching those files (a chunk B-tree that loops, chunks off their grid or stored twice, a chunk
// that inflates past its size, a damaged fletcher32 chunk, an attribute whose dimension claims 2^31
// values), refused with one line naming the file and the problem; some through the CLI.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { InputFileError } from "../../src/core/errors.js";
import { openKeras } from "../../src/io/keras.js";
import { FIXTURES, runCli } from "../helpers.js";

const DIR = join(FIXTURES, "keras");
const work = mkdtempSync(join(tmpdir(), "bn-check-hdf5-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What generate_hdf5_layouts.py stores: element i (C order) holds i / 8 − 3. */
const ramp = (count: number) => Array.from({ length: count }, (_, i) => i / 8 - 3);

describe("layouts and filters h5py writes", () => {
  const archive = openKeras(join(DIR, "layouts.h5"));
  const cases: [string, string, number[]][] = [
    ["chunked_gzip_shuffle_fletcher", "float32", [5, 7, 3]],
    ["chunked_plain", "float64", [5, 7]],
    ["chunked_float16", "float16", [9]],
    ["big_endian_f4", "float32", [2, 3]],
    ["big_endian_f8_chunked", "float64", [6]],
    ["float16", "float16", [4]],
    ["compact", "float32", [3]],
    ["empty", "float32", [0, 3]],
  ];
  for (const [name, dtype, shape] of cases) {
    it(`${name}: ${dtype} [${shape.join(", ")}], the values h5py wrote`, () => {
      const tensor = archive.read(name);
      expect(tensor.dtype).toBe(dtype);
      expect(tensor.shape).toEqual(shape);
      expect(Array.from(tensor.data)).toEqual(ramp(shape.reduce((a, b) => a * b, 1)));
    });
  }

  it("a scalar, a negative int64 and a big-endian uint16", () => {
    expect(archive.read("scalar").shape).toEqual([]);
    expect(Array.from(archive.read("scalar").data)).toEqual([2.5]);
    expect(archive.readInteger("int64")).toBe(-7);
    expect(archive.readInteger("uint16_be")).toBe(513);
  });

  const refusals: [string, string, RegExp][] = [
    [
      "partial",
      "chunks never written",
      /layouts\.h5:partial: has 1 of its 5 chunks written: the rest of its data was never written$/,
    ],
    [
      "lzf",
      "a filter bn-check does not decode",
      /layouts\.h5:lzf: is compressed with HDF5 filter 32000 \(lzf\), which bn-check does not decode/,
    ],
    ["null", "a null dataspace", /layouts\.h5:null: has a null dataspace: it holds no values$/],
  ];
  for (const [name, what, message] of refusals) {
    it(`refuses ${what}`, () => {
      expect(() => archive.read(name)).toThrow(InputFileError);
      expect(() => archive.read(name)).toThrow(message);
    });
  }

  it("refuses the version 4 layout's chunk indexes (libver='latest'), naming it", () => {
    expect(() => openKeras(join(DIR, "layout-v4.h5")).read("x")).toThrow(
      /layout-v4\.h5:x: indexes its chunks in the version 4 data layout/,
    );
  });
});

/** chunked-8-<kind>.h5 with its bytes changed by `patch`, written to the work folder. */
function patched(
  kind: "plain" | "gzip" | "fletcher",
  name: string,
  patch: (bytes: Buffer, node: number) => unknown,
): string {
  let bytes: Buffer = Buffer.from(readFileSync(join(DIR, `chunked-8-${kind}.h5`)));
  // The dataset's chunk B-tree: "TREE", node type 1 (chunks), level 0; two entries of 24-byte keys.
  const node = bytes.indexOf(Buffer.from("TREE\x01\x00", "latin1"));
  expect(node).toBeGreaterThan(0);
  const grown = patch(bytes, node); // a patch that appends returns the longer file
  if (grown instanceof Buffer) bytes = grown;
  const path = join(work, name);
  writeFileSync(path, bytes);
  return path;
}
/**
 * Offsets in a level-0 node of a rank-1 dataset: key k at 24 + 32k (size, mask, 2 offsets), child k 24 bytes after it.
 */
const key = (node: number, k: number) => node + 24 + 32 * k;
const child = (node: number, k: number) => key(node, k) + 24;

describe("hostile chunk indexes and chunks, each refused with one line", () => {
  it("the unpatched files read", () => {
    for (const kind of ["plain", "gzip", "fletcher"] as const)
      expect(Array.from(openKeras(patched(kind, `${kind}.h5`, () => undefined)).read("x").data)).toEqual(ramp(8));
  });

  const cases: [string, () => string, RegExp][] = [
    [
      "a chunk off its chunk grid",
      () => patched("plain", "off-grid.h5", (bytes, node) => void bytes.writeUInt32LE(3, key(node, 1) + 8)),
      /off-grid\.h5:x: has a chunk at offset 3 on axis 0, off its chunk grid or outside the shape \[8\]$/,
    ],
    [
      "a chunk stored twice",
      () => patched("plain", "twice.h5", (bytes, node) => void bytes.writeUInt32LE(0, key(node, 1) + 8)),
      /twice\.h5:x: stores the chunk at \[0\] twice$/,
    ],
    [
      "a chunk outside the file",
      () => patched("plain", "outside.h5", (bytes, node) => void bytes.writeUInt32LE(bytes.length, child(node, 0))),
      /outside\.h5:x: has the chunk at \[0\] \(16 bytes at byte \d[\d,]*\) outside the file$/,
    ],
    [
      "a B-tree node that points to itself",
      () =>
        patched("plain", "loop.h5", (bytes, node) => {
          bytes[node + 5] = 1; // level 1: its children are nodes
          bytes.writeUInt32LE(node, child(node, 0));
          bytes.writeUInt32LE(node, child(node, 1));
        }),
      /loop\.h5:x: has a chunk B-tree that reaches the node at byte \d[\d,]* twice$/,
    ],
    [
      "a chunk whose stored size cannot hold it",
      () => patched("plain", "short.h5", (bytes, node) => void bytes.writeUInt32LE(8, key(node, 0))),
      /short\.h5:x: has a chunk at \[0\] of 8 bytes, too few for its 16$/,
    ],
    [
      "a deflated chunk that inflates past its size (a bomb: 1 MiB of zeros)",
      () =>
        patched("gzip", "bomb.h5", (bytes, node) => {
          const bomb = deflateSync(Buffer.alloc(2 ** 20));
          bytes.writeUInt32LE(bytes.length, child(node, 0));
          bytes.writeUInt32LE(bomb.length, key(node, 0));
          bytes.writeUInt32LE(bytes.length + bomb.length, 40); // the superblock's end-of-file address
          return Buffer.concat([bytes, bomb]);
        }),
      /bomb\.h5:x: has the chunk at \[0\] that does not inflate to its 16 bytes \(/,
    ],
    [
      "a damaged fletcher32 chunk",
      () =>
        patched("fletcher", "fletcher.h5", (bytes) => {
          const at = bytes.indexOf(Buffer.from(new Float32Array(ramp(4)).buffer));
          expect(at).toBeGreaterThan(0);
          bytes[at + 1] ^= 0x40;
        }),
      /fletcher\.h5:x: has the chunk at \[0\] failing its fletcher32 checksum: the file is damaged$/,
    ],
    [
      "chunks of 8-byte elements for a 4-byte datatype",
      () =>
        patched("plain", "element.h5", (bytes) => {
          // Layout message version 3, class 2 (chunked), dimensionality 2, B-tree address, chunk dims [4, 4].
          const at = bytes.indexOf(Buffer.from([3, 2, 2]));
          expect(bytes.readUInt32LE(at + 11)).toBe(4);
          bytes.writeUInt32LE(8, at + 15);
        }),
      /element\.h5:x: has chunks of \[4\] for 8 values: its chunks hold 8-byte elements, its datatype 4$/,
    ],
  ];
  for (const [what, build, message] of cases) {
    it(what, () => {
      const path = build();
      expect(() => openKeras(path).read("x")).toThrow(InputFileError);
      expect(() => openKeras(path).read("x")).toThrow(message);
    });
  }

  it("through the CLI: exit 2 and one line, for a looping B-tree and a chunk bomb", () => {
    for (const [name, message] of [
      ["loop.h5", /reaches the node at byte [\d,]+ twice/],
      ["bomb.h5", /does not inflate to its 16 bytes/],
    ] as const) {
      const run = runCli(["diff", `${join(work, name)}:x`, `${join(work, name)}:x`]);
      expect(run.status).toBe(2);
      expect(run.stderr.split("\n")).toHaveLength(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.startsWith(`bn-check: ${join(work, name)}:x: `)).toBe(true);
    }
  });
});

describe("attributes are checked against their messages before jsfive reads them", () => {
  it("layer_names whose dimension claims 2^31 names is refused at once (jsfive looped over them)", () => {
    const bytes = Buffer.from(readFileSync(join(DIR, "keras2-weights.h5")));
    // Attribute message version 1: name "layer_names\0" (padded to 16), datatype (8 bytes), then the
    // dataspace (version 1: 8 bytes of header, then the first dimension).
    const name = bytes.indexOf("layer_names\0");
    expect(bytes.readUInt32LE(name + 24 + 8)).toBe(4);
    bytes.writeUInt32LE(2 ** 31, name + 24 + 8);
    const path = join(work, "names.h5");
    writeFileSync(path, bytes);
    const run = runCli(["diff", `${path}:bn/gamma`, `${path}:bn/gamma`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `bn-check: ${path}: has an attribute of 2,147,483,648 values ` +
        `of 10 bytes in a 96-byte message: the file is damaged\n`,
    );
  });
});
