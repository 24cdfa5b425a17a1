// The safetensors reader on files written by numpy (fixtures/generate_safetensors.py), its refusals
// of damaged or lying headers (each one line naming the file), a fuzz of mutated and truncated
// files, and a real PyTorch BatchNorm layer checked straight from safetensors dumps through the CLI.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { firstDuplicateKey, readSafetensors } from "../../src/io/safetensors.js";
import { readTensor } from "../../src/io/read-tensor.js";
import { readNpy } from "../../src/io/npy/read-npy.js";
import { FIXTURES, layerCompareArgs, runCli, seededRandom } from "../helpers.js";

const DIR = join(FIXTURES, "safetensors");
const MIXED = join(DIR, "mixed.safetensors");
const work = mkdtempSync(join(tmpdir(), "bn-check-safetensors-"));

/** A safetensors file from a header object (or text) and data bytes. */
function craft(
  name: string,
  header: object | string,
  data: Uint8Array = new Uint8Array(0),
  lengthOverride?: bigint,
): string {
  const text = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(lengthOverride ?? BigInt(text.length));
  const path = join(work, name);
  writeFileSync(path, Buffer.concat([length, text, data]));
  return path;
}

describe("safetensors files written by numpy", () => {
  for (const name of ["f32", "f64", "f16", "bf16"]) {
    it(`${name}: the same values as the .npy beside it`, () => {
      const tensor = readTensor(`${MIXED}:${name}`);
      const expected = readNpy(join(DIR, `mixed-${name}.npy`));
      expect(tensor.shape).toEqual([2, 3, 4]);
      expect(Array.from(tensor.data)).toEqual(Array.from(expected.data));
      expect(tensor.dtype).toBe({ f32: "float32", f64: "float64", f16: "float16", bf16: "float32" }[name]);
      if (name === "bf16") expect(tensor.precision).toBe("bfloat16");
    });
  }

  it("reads a file's only tensor without a key, and asks for one when there are several", () => {
    expect(readTensor(join(DIR, "single.safetensors")).shape).toEqual([2, 3, 4]);
    expect(() => readTensor(MIXED)).toThrow(
      /mixed\.safetensors: holds 5 tensors \(.*\): name one as .*mixed\.safetensors:<name>/,
    );
    expect(() => readTensor(`${MIXED}:nope`)).toThrow(
      /mixed\.safetensors:nope: no tensor 'nope' in the file \(it holds /,
    );
  });

  it("refuses an integer tensor where a float one is meant, naming it", () => {
    expect(() => readTensor(`${MIXED}:steps`)).toThrow(
      /mixed\.safetensors:steps: is a tensor of I64: bn-check checks F16, BF16, F32 and F64 tensors/,
    );
  });
});

describe("damaged and lying safetensors headers", () => {
  const f32 = (count: number) => new Uint8Array(count * 4);
  const cases: [string, () => string, RegExp][] = [
    [
      "too short for the length",
      () => {
        const path = join(work, "short.safetensors");
        writeFileSync(path, Buffer.from([1, 2, 3, 4, 5]));
        return path;
      },
      /short\.safetensors: is 5 bytes: too short for a safetensors header length/,
    ],
    [
      "a header length beyond the file",
      () => craft("long.safetensors", {}, new Uint8Array(0), 1000n),
      /states a 1000-byte header, but the file has 2 bytes after the length/,
    ],
    [
      "a header length above the limit",
      () => craft("huge.safetensors", {}, new Uint8Array(0), 1n << 40n),
      /more than the 100000000 a safetensors header may have/,
    ],
    ["a header that is not JSON", () => craft("json.safetensors", "{nope"), /has a header that is not JSON/],
    ["a header that is a list", () => craft("list.safetensors", "[]"), /has a header that is not a JSON object/],
    [
      "a duplicate key",
      () =>
        craft(
          "dup.safetensors",
          '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
          f32(2),
        ),
      /names the tensor 'a' twice/,
    ],
    [
      "an unknown dtype",
      () => craft("dtype.safetensors", { a: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, f32(4)),
      /dtype\.safetensors:a: has an unknown dtype "F128"/,
    ],
    [
      "a negative dimension",
      () => craft("shape.safetensors", { a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, f32(1)),
      /a shape that is not a list of non-negative integers/,
    ],
    [
      "offsets past the data",
      () => craft("past.safetensors", { a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, f32(2)),
      /ends at byte 16 of the data, but the file holds 8/,
    ],
    [
      "offsets reversed",
      () => craft("reversed.safetensors", { a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, f32(1)),
      /data_offsets that are not \[begin, end\]/,
    ],
    [
      "a byte count that the shape does not match",
      () => craft("count.safetensors", { a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32(2)),
      /holds 8 bytes, but shape \[3\] of F32 needs 12/,
    ],
    [
      "overlapping tensors",
      () =>
        craft(
          "overlap.safetensors",
          {
            a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
            b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
          },
          f32(3),
        ),
      /has overlapping tensors 'a' and 'b'/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(`${what}: a named error`, () => {
      const path = make();
      expect(() => readSafetensors(path, "a")).toThrow(InputFileError);
      expect(() => readSafetensors(path, "a")).toThrow(message);
    });
  }

  it("finds duplicate keys only at the top level, through escapes", () => {
    expect(firstDuplicateKey('{"a":{"x":1,"x":2},"b\\"":1,"b\\"":2}')).toBe('b"');
    expect(firstDuplicateKey('{"a":{"x":1},"b":[{"a":1}]}')).toBeNull();
  });

  it("the real binary gives one line and exit 2 for a damaged file", () => {
    const path = craft("cli.safetensors", { a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32(2));
    const run = runCli(["diff", `${path}:a`, `${path}:a`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`bn-check: ${path}:a: holds 8 bytes, but shape [3] of F32 needs 12\n`);
  });
});

describe("fuzzing the safetensors reader", () => {
  it("ends every mutated or truncated file as a tensor or a named error", () => {
    const original = readFileSync(MIXED);
    const random = seededRandom(77);
    let read = 0;
    let refused = 0;
    for (let run = 0; run < 600; run++) {
      const bytes = Buffer.from(original);
      if (run % 3 === 0) {
        const cut = Math.floor(random() * bytes.length);
        writeFileSync(join(work, "fuzz.safetensors"), bytes.subarray(0, cut));
      } else {
        for (let k = 0; k < 1 + (run % 4); k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        writeFileSync(join(work, "fuzz.safetensors"), bytes);
      }
      try {
        readSafetensors(join(work, "fuzz.safetensors"), ["f32", "f64", "f16", "bf16"][run % 4]);
        read++;
      } catch (error) {
        expect(error).toBeInstanceOf(InputFileError);
        refused++;
      }
    }
    expect(read + refused).toBe(600);
    expect(refused).toBeGreaterThan(100);
  });
});

describe("a real PyTorch BatchNorm2d layer checked from safetensors dumps", () => {
  for (const mode of ["eval", "train"]) {
    it(`${mode}: conforms, with parameters and activations named as file.safetensors:key`, () => {
      const params = (key: string) => `${join(DIR, "bn-params.safetensors")}:bn.${key}`;
      const acts = (key: string) => `${join(DIR, "bn-acts.safetensors")}:bn.${mode}.${key}`;
      const run = runCli(layerCompareArgs(acts("input"), acts("output"), mode, params));
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout).tensors[0].verdict).toBe("conforms");
    });
  }
});

describe("what JSON.parse may build of a header is bounded before parsing", () => {
  it("a ten-million-deep header is refused from a scan of its bytes, through the CLI: exit 2, one line", () => {
    const path = craft("deep.safetensors", `${"[".repeat(10_000_000)}${"]".repeat(10_000_000)}`);
    const run = runCli(["diff", `${path}:x`, `${path}:x`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `bn-check: ${path}: nests arrays or objects more than 8 deep (at byte 8): not a safetensors header\n`,
    );
  });

  it("a header of two million and one values is refused the same way", () => {
    const path = craft("values.safetensors", `{"x":[${"{},".repeat(2_000_000)}{}]}`);
    expect(() => readSafetensors(path, "x")).toThrow(
      /values\.safetensors: holds more than 2,000,000 JSON values \(at byte \d+\): not a safetensors header bn-check reads$/,
    );
  });

  it("a tensor name of 5,000 bytes is refused; a metadata string of 5 MB is not", () => {
    expect(() =>
      readSafetensors(
        craft("name.safetensors", { ["n".repeat(5000)]: { dtype: "F32", shape: [0], data_offsets: [0, 0] } }),
      ),
    ).toThrow(/name\.safetensors: has a key of 5,000 bytes \(at byte 1\): keys are at most 4,096 here$/);
    const path = craft(
      "metadata.safetensors",
      { __metadata__: { note: "m".repeat(5_000_000) }, x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } },
      new Uint8Array(4),
    );
    expect(Array.from(readSafetensors(path, "x").data)).toEqual([0]);
  });
});
