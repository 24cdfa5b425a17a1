// The PyTorch .pt/.pth reader on files torch.save wrote (fixtures/generate_torch_pt.py), compared
// with the values torch held (fixtures/pt/expected.npz); its refusals, each one line naming the file
// (whole modules, the legacy format, TorchScript, globals outside the allow-list, lying archives
// crafted here with hand-written pickles); a fuzz of damaged files and pickles; and the real CLI.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { unzipSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { openTensorArchive } from "../../src/io/archive-formats.js";
import { readTensor } from "../../src/io/read-tensor.js";
import { ALLOWED_GLOBALS } from "../../src/io/torch-pickle.js";
import { openTorchPt, readTorchPt } from "../../src/io/torch-pt.js";
import { FIXTURES, layerCompareArgs, runCli, seededRandom } from "../helpers.js";

const DIR = join(FIXTURES, "pt");
const EXPECTED = join(DIR, "expected.npz");
const work = mkdtempSync(join(tmpdir(), "bn-check-torch-pt-"));
const BN_KEYS = ["weight", "bias", "running_mean", "running_var"];

function expectSameValues(spec: string, expectedKey: string): void {
  const tensor = readTensor(spec);
  const expected = readTensor(`${EXPECTED}:${expectedKey}`);
  expect(tensor.shape).toEqual(expected.shape);
  expect(Array.from(tensor.data)).toEqual(Array.from(expected.data));
}

describe("state_dicts written by torch.save", () => {
  for (const [file, prefix, dtype] of [
    ["bn-f32.pt", "bn-f32", "float32"],
    ["bn-f64.pth", "bn-f64", "float64"],
    ["bn-f16.pth", "bn-f16", "float16"],
    ["bn-bf16.pth", "bn-bf16", "float32"],
  ] as const) {
    it(`${file}: names in state_dict order, values as torch held them, dtype ${dtype}`, () => {
      const archive = openTorchPt(join(DIR, file));
      expect(archive.names).toEqual([...BN_KEYS, "num_batches_tracked"]);
      for (const key of BN_KEYS) {
        expectSameValues(`${join(DIR, file)}:${key}`, `${prefix}.${key}`);
        const tensor = archive.read(key);
        expect(tensor.dtype).toBe(dtype);
        expect(tensor.shape).toEqual([4]);
        expect(tensor.precision).toBe(file.includes("bf16") ? "bfloat16" : undefined);
      }
      expect(archive.readInteger("num_batches_tracked")).toBe(7);
    });
  }

  it("the values are the layer's, not a default (weight is not all ones)", () => {
    const weight = readTensor(`${join(DIR, "bn-f32.pt")}:weight`);
    expect(weight.data[0]).toBeCloseTo(0.649041712, 8);
    expect(Array.from(weight.data).some((value) => value === 1)).toBe(false);
  });

  it("reads a big-endian archive (a byteorder member saying 'big') to the same values", () => {
    const path = join(DIR, "bn-big-endian.pt");
    for (const key of BN_KEYS) expectSameValues(`${path}:${key}`, `bn-f32.${key}`);
    expect(openTorchPt(path).readInteger("num_batches_tracked")).toBe(7);
  });

  it("views of one storage: offset, transposed, stepped, 2-D slice and 0-d, gathered in C order", () => {
    const path = join(DIR, "views.pt");
    expect(openTorchPt(path).names).toEqual(["base", "offset", "transposed", "stepped", "slice2d", "scalar"]);
    for (const key of ["base", "offset", "transposed", "stepped", "slice2d", "scalar"])
      expectSameValues(`${path}:${key}`, `views.${key}`);
    // base is arange(60) / 8 - 3: the transpose of its 5x12 view starts 0, 12, 24, ... of base.
    expect(Array.from(readTensor(`${path}:transposed`).data.subarray(0, 5))).toEqual([-3, -1.5, 0, 1.5, 3]);
    expect(readTensor(`${path}:scalar`).shape).toEqual([]);
    expect(Array.from(readTensor(`${path}:scalar`).data)).toEqual([5 / 8 - 3]);
  });

  it("a nested checkpoint flattens with '.', skipping ints, floats and strings; parameters are tensors", () => {
    const path = join(DIR, "checkpoint.pt");
    const archive = openTorchPt(path);
    expect(archive.names).toEqual([
      ...BN_KEYS.map((key) => `model.${key}`),
      "model.num_batches_tracked",
      "ema.weight",
      "optimizer.state.0.momentum_buffer",
    ]);
    for (const key of BN_KEYS) expectSameValues(`${path}:model.${key}`, `bn-f32.${key}`);
    expectSameValues(`${path}:ema.weight`, "checkpoint.ema.weight");
    expectSameValues(`${path}:optimizer.state.0.momentum_buffer`, "checkpoint.optimizer.state.0.momentum_buffer");
    expect(archive.readInteger("model.num_batches_tracked")).toBe(7);
    expect(() => archive.read("epoch")).toThrow(/checkpoint\.pt:epoch: no tensor 'epoch' in the file/);
  });

  it("asks for a name when a file holds several tensors, and lists them when one is missing", () => {
    expect(() => readTensor(join(DIR, "bn-f32.pt"))).toThrow(
      /bn-f32\.pt: holds 5 tensors \(.*\): name one as .*bn-f32\.pt:<name>/,
    );
    expect(() => readTensor(`${join(DIR, "bn-f32.pt")}:gamma`)).toThrow(
      /bn-f32\.pt:gamma: no tensor 'gamma' in the file \(it holds weight, bias/,
    );
  });

  it("refuses an integer tensor where a float one is meant, and a float one where an integer is", () => {
    expect(() => readTensor(`${join(DIR, "bn-f32.pt")}:num_batches_tracked`)).toThrow(
      /bn-f32\.pt:num_batches_tracked: is a tensor of int64: bn-check checks float16, bfloat16, float32 and float64$/,
    );
    expect(() => openTorchPt(join(DIR, "bn-f32.pt")).readInteger("weight")).toThrow(
      /bn-f32\.pt:weight: is a tensor of float32: an integer is expected here/,
    );
  });
});

describe("files bn-check refuses by name", () => {
  const cases: [string, RegExp][] = [
    ["legacy.pt", /legacy\.pt: is in the legacy PyTorch format .*: re-save with torch\.save in PyTorch >= 1\.6$/],
    ["torchscript.pt", /torchscript\.pt: is a TorchScript archive \(torch\.jit\.save\)/],
    // Foreign globals are inert records, never called: a pickle that would run code holds no tensor.
    ["evil-system.pt", /evil-system\.pt: holds no tensor: its data\.pkl is a record of class posix\.system$/],
    ["evil-eval.pt", /evil-eval\.pt: holds no tensor: its data\.pkl is a record of class builtins\.eval$/],
  ];
  for (const [file, message] of cases) {
    it(file, () => {
      expect(() => openTorchPt(join(DIR, file))).toThrow(InputFileError);
      expect(() => openTorchPt(join(DIR, file))).toThrow(message);
    });
  }

  it("a whole pickled module (torch.save(bn)) is read, its tensors named as state_dict() names them", () => {
    expect(openTorchPt(join(DIR, "module.pt")).names).toEqual([
      "weight",
      "bias",
      "running_mean",
      "running_var",
      "num_batches_tracked",
    ]);
  });

  it("the globals given a meaning are what tensors need and nothing that runs code", () => {
    expect(ALLOWED_GLOBALS).toContain("torch._utils._rebuild_tensor_v2");
    expect(ALLOWED_GLOBALS).toContain("torch.FloatStorage");
    expect(
      ALLOWED_GLOBALS.some((global) => /builtins|posix|os\.|subprocess|eval|exec|getattr|__import__/.test(global)),
    ).toBe(false);
  });
});

/** A pickle (protocol 2) written opcode by opcode, as torch.save lays a state_dict out. */
class PickleWriter {
  private readonly bytes: number[] = [0x80, 2];
  op(...codes: number[]): this {
    this.bytes.push(...codes);
    return this;
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`));
  }
  string(text: string): this {
    const utf8 = Buffer.from(text);
    return this.op(0x58, ...this.int32(utf8.length), ...utf8);
  }
  int(value: number): this {
    return this.op(0x4a, ...this.int32(value));
  }
  tuple(values: readonly number[]): this {
    this.op(0x28);
    for (const value of values) this.int(value);
    return this.op(0x74);
  }
  private int32(value: number): number[] {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32LE(value);
    return [...buffer];
  }
  done(): Uint8Array {
    return Uint8Array.from([...this.bytes, 0x2e]);
  }
}

interface CraftedTensor {
  readonly key: string;
  readonly numel: number;
  readonly offset: number;
  readonly size: readonly number[];
  readonly stride: readonly number[];
  readonly storage?: string;
}

/**
 * data.pkl for an OrderedDict of tensors: MARK, key, _rebuild_tensor_v2(storage
 * pid, offset, size, stride, False, {}) ... SETITEMS.
 */
function statePickle(tensors: Record<string, CraftedTensor>): Uint8Array {
  const pickle = new PickleWriter().global("collections", "OrderedDict").op(0x29, 0x52, 0x28);
  for (const [name, tensor] of Object.entries(tensors)) {
    pickle.string(name).global("torch._utils", "_rebuild_tensor_v2").op(0x28, 0x28);
    pickle
      .string("storage")
      .global("torch", tensor.storage ?? "FloatStorage")
      .string(tensor.key)
      .string("cpu")
      .int(tensor.numel)
      .op(0x74, 0x51);
    pickle.int(tensor.offset).tuple(tensor.size).tuple(tensor.stride).op(0x89, 0x7d, 0x74, 0x52);
  }
  return pickle.op(0x75).done();
}

function craftZip(name: string, members: Record<string, Uint8Array | string>): string {
  const files = Object.fromEntries(
    Object.entries(members).map(([member, data]) => [
      member,
      typeof data === "string" ? new TextEncoder().encode(data) : data,
    ]),
  );
  const path = join(work, name);
  writeFileSync(path, zipSync(files, { level: 0 }));
  return path;
}

const floats = (...values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

describe("crafted archives whose data.pkl and members disagree", () => {
  it("reads a hand-written state_dict (any prefix, a view with an offset and strides)", () => {
    const path = craftZip("ok.pt", {
      "my-model/data.pkl": statePickle({ w: { key: "0", numel: 6, offset: 1, size: [2, 2], stride: [1, 2] } }),
      "my-model/data/0": floats(10, 11, 12, 13, 14, 15),
    });
    // Elements 1 + i + 2j of 10..15 in C order over (i, j): [11, 13, 12, 14].
    expect(Array.from(readTorchPt(path, "w").data)).toEqual([11, 13, 12, 14]);
  });

  const cases: [string, () => string, RegExp][] = [
    [
      "a storage member that is missing",
      () =>
        craftZip("missing.pt", {
          "a/data.pkl": statePickle({ w: { key: "7", numel: 2, offset: 0, size: [2], stride: [1] } }),
        }),
      /missing\.pt:w: refers to storage 7, but the archive has no member a\/data\/7/,
    ],
    [
      "a storage whose member has another size",
      () =>
        craftZip("size.pt", {
          "a/data.pkl": statePickle({ w: { key: "0", numel: 3, offset: 0, size: [3], stride: [1] } }),
          "a/data/0": floats(1, 2),
        }),
      /size\.pt:w: has storage 0 of 3 float32 elements \(12 bytes\), but its member holds 8 bytes/,
    ],
    [
      "a view past the end of its storage",
      () =>
        craftZip("past.pt", {
          "a/data.pkl": statePickle({ w: { key: "0", numel: 4, offset: 2, size: [2, 2], stride: [2, 1] } }),
          "a/data/0": floats(1, 2, 3, 4),
        }),
      /past\.pt:w: views elements 2 to 5 \(shape \[2, 2\], stride \[2, 1\]\) of storage 0, which holds 4/,
    ],
    [
      "a negative stride",
      () =>
        craftZip("negative.pt", {
          "a/data.pkl": statePickle({ w: { key: "0", numel: 2, offset: 0, size: [2], stride: [-1] } }),
          "a/data/0": floats(1, 2),
        }),
      /negative\.pt: data\.pkl has a tensor whose stride is not 1 non-negative integers/,
    ],
    [
      "a storage type outside the allow-list",
      () =>
        craftZip("qint.pt", {
          "a/data.pkl": statePickle({
            w: { key: "0", numel: 2, offset: 0, size: [2], stride: [1], storage: "QInt8Storage" },
          }),
          "a/data/0": floats(1, 2),
        }),
      /qint\.pt: data\.pkl has a persistent id whose storage type is not a torch storage type/,
    ],
    [
      "a byteorder that is neither little nor big",
      () => craftZip("order.pt", { "a/data.pkl": statePickle({}), "a/byteorder": "middle" }),
      /order\.pt: states byte order 'middle': 'little' or 'big' is expected/,
    ],
    [
      "no data.pkl",
      () => craftZip("none.pt", { "a/version": "3\n" }),
      /none\.pt: holds no <archive>\/data\.pkl: not a PyTorch archive written by torch\.save/,
    ],
    [
      "a file that is no zip",
      () => {
        writeFileSync(join(work, "text.pt"), "hello");
        return join(work, "text.pt");
      },
      /text\.pt: is not a PyTorch zip archive/,
    ],
    [
      "a truncated archive",
      () => {
        writeFileSync(join(work, "cut.pt"), readFileSync(join(DIR, "bn-f32.pt")).subarray(0, 900));
        return join(work, "cut.pt");
      },
      /cut\.pt: is not a readable PyTorch \(zip\) archive: no end-of-central-directory record/,
    ],
    [
      "a pickle cut short",
      () => craftZip("short.pt", { "a/data.pkl": statePickle({}).subarray(0, 30) }),
      /short\.pt: data\.pkl is not a pickle bn-check can read/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(`${what}: a named error`, () => {
      const path = make();
      const attempt = () => openTorchPt(path).read("w");
      expect(attempt).toThrow(InputFileError);
      expect(attempt).toThrow(message);
    });
  }
});

describe("fuzzing the PyTorch reader", () => {
  const rssLimit = process.memoryUsage().rss + 512 * 1024 * 1024;
  const settle = (path: string, name: string): "read" | "refused" => {
    try {
      const tensor = openTorchPt(path).read(name);
      expect(tensor.data.length).toBeLessThanOrEqual(60);
      return "read";
    } catch (error) {
      expect(error).toBeInstanceOf(InputFileError);
      return "refused";
    } finally {
      expect(process.memoryUsage().rss).toBeLessThan(rssLimit);
    }
  };

  it("ends every mutated or truncated file as a tensor or a named error", () => {
    const original = readFileSync(join(DIR, "views.pt"));
    const random = seededRandom(91);
    const outcomes = { read: 0, refused: 0 };
    for (let run = 0; run < 300; run++) {
      const bytes = Buffer.from(original);
      const path = join(work, "fuzz.pt");
      if (run % 3 === 0) writeFileSync(path, bytes.subarray(0, Math.floor(random() * bytes.length)));
      else {
        for (let k = 0; k < 1 + (run % 4); k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        writeFileSync(path, bytes);
      }
      outcomes[settle(path, ["base", "transposed", "slice2d"][run % 3])]++;
    }
    expect(outcomes.read + outcomes.refused).toBe(300);
    expect(outcomes.refused).toBeGreaterThan(100);
  });

  it("ends every mutated data.pkl (re-zipped with a valid CRC) as a tensor or a named error", () => {
    const members = unzipSync(readFileSync(join(DIR, "views.pt")));
    const pickle = members["views/data.pkl"];
    const outcomes = { read: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: pickle.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.nat({ max: pickle.length }),
        (edits, cut) => {
          const mutated = pickle.slice(0, Math.max(cut, pickle.length - 8));
          for (const [at, value] of edits) if (at < mutated.length) mutated[at] = value;
          const path = join(work, "fuzz-pickle.pt");
          writeFileSync(path, zipSync({ ...members, "views/data.pkl": mutated }, { level: 0 }));
          outcomes[settle(path, "transposed")]++;
        },
      ),
      { numRuns: 400, seed: 17 },
    );
    // Most edits break the pickle; the few that land on a name or a number still read.
    expect(outcomes.read + outcomes.refused).toBe(400);
    expect(outcomes.refused).toBeGreaterThan(300);
  });
});

describe("the CLI on .pt arguments", () => {
  it("a real BatchNorm2d checked from torch.save files conforms, every tensor named file.pt:key", () => {
    const params = (key: string) => `${join(DIR, "bn-f32.pt")}:${key}`;
    const acts = (key: string) => `${join(DIR, "bn-acts.pt")}:eval.${key}`;
    const run = runCli(layerCompareArgs(acts("input"), acts("output"), "eval", params));
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).tensors[0].verdict).toBe("conforms");
  });

  it("the wrong layer's statistics do not conform", () => {
    const params = (key: string) => `${join(DIR, "bn-f32.pt")}:${key}`;
    const acts = (key: string) => `${join(DIR, "bn-acts.pt")}:eval.${key}`;
    // weight and bias swapped: a parameter from the wrong place.
    const swapped = (key: string) => params(key === "weight" ? "bias" : key === "bias" ? "weight" : key);
    const run = runCli(layerCompareArgs(acts("input"), acts("output"), "eval", swapped));
    expect(run.status).toBe(1);
  });

  it("a malicious pickle is one line on stderr and exit 2", () => {
    const path = join(DIR, "evil-system.pt");
    const run = runCli(["compare", `${path}:x`, `${path}:y`, "--mode", "eval"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`bn-check: ${path}: holds no tensor: its data.pkl is a record of class posix.system\n`);
  });

  it("the archive cache serves a second read of the same file", () => {
    const path = join(DIR, "bn-f32.pt");
    expect(openTensorArchive(path)).toBe(openTensorArchive(path));
  });
});

describe("pickles that turn an unpickler's own behaviour against the reader", () => {
  it("a BUILD that would set a list's length to 2^32 - 1 changes nothing (BUILD assigns onto no list)", () => {
    // {"a": []} with BUILD([], {"length": 4294967295}): a general unpickler Object.assigns state onto lists.
    const pickle = new PickleWriter()
      .op(0x7d, 0x28)
      .string("a")
      .op(0x5d, 0x7d)
      .string("length")
      .op(0x4c, ...Buffer.from("4294967295\n"))
      .op(0x73, 0x62, 0x75)
      .done();
    const path = craftZip("length.pt", { "a/data.pkl": pickle });
    expect(() => openTorchPt(path)).toThrow(/length\.pt: holds no tensor: its data\.pkl is a dict of 1 entries$/);
  });

  it("a list that holds itself is walked once", () => {
    // l = []; l.append(l); {"l": l, "w": tensor}
    const pickle = new PickleWriter().op(0x7d, 0x28).string("l").op(0x5d, 0x71, 0, 0x68, 0, 0x61).done();
    const path = craftZip("cycle.pt", { "a/data.pkl": Uint8Array.from([...pickle.subarray(0, -1), 0x75, 0x2e]) });
    expect(() => openTorchPt(path)).toThrow(/cycle\.pt: holds no tensor: its data\.pkl is a dict of 1 entries$/);
  });
});

describe("hostile pickles (issue: reliability round three): each ends at once with one line, exit 2", () => {
  const refusedByCli = (path: string, problem: RegExp) => {
    const run = runCli(["diff", `${path}:w`, `${path}:w`]);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(problem);
  };

  it("a 20-byte pickle whose BINBYTES length is negative (0xffffffff) is past the end, not a loop", () => {
    const pickle = Uint8Array.from([0x80, 2, 0x42, 0xff, 0xff, 0xff, 0xff, 0x2e, ...new Array(12).fill(0)]);
    refusedByCli(
      craftZip("negbytes.pt", { "a/data.pkl": pickle }),
      /negbytes\.pt: data\.pkl is not a pickle bn-check can read \(has a length of 4294967295 bytes, past the end of the pickle/,
    );
    const long4 = Uint8Array.from([0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0xff, 0x2e]);
    refusedByCli(
      craftZip("neglong4.pt", { "a/data.pkl": long4 }),
      /neglong4\.pt: data\.pkl is not a pickle bn-check can read \(has a LONG4 of length -1/,
    );
  });

  it("an 8 MiB LONG4 integer is kept as its size, never decoded", () => {
    const size = 8 * 1024 * 1024;
    const pickle = new Uint8Array(3 + 4 + size + 1);
    pickle.set([0x80, 2, 0x8b]);
    new DataView(pickle.buffer).setInt32(3, size, true);
    pickle[pickle.length - 1] = 0x2e;
    refusedByCli(
      craftZip("long4.pt", { "a/data.pkl": pickle }),
      /long4\.pt: holds no tensor: its data\.pkl is a object/,
    );
  });

  it("16 M EMPTY_DICT opcodes exceed the object budget", () => {
    const count = 16 * 1024 * 1024 - 8;
    const pickle = new Uint8Array(2 + count + 1).fill(0x7d);
    pickle.set([0x80, 2]);
    pickle[pickle.length - 1] = 0x2e;
    refusedByCli(
      craftZip("dicts.pt", { "a/data.pkl": pickle }),
      /dicts\.pt: data\.pkl is not a pickle bn-check can read \((creates more than 2000000 objects|stacks more than 100000 values)/,
    );
  });

  it("BUILD with a __proto__ key cannot dress a dict up as a tensor record", () => {
    // {"w": {}} then BUILD({"__proto__": <a real tensor record's fields>, "offset": -5, "shape": [1e9]})
    const pickle = new PickleWriter()
      .op(0x7d, 0x28)
      .string("w")
      .op(0x7d, 0x7d)
      .string("__proto__")
      .op(0x7d)
      .string("offset")
      .int(-5)
      .op(0x73, 0x73, 0x62, 0x75)
      .done();
    refusedByCli(
      craftZip("proto.pt", { "a/data.pkl": pickle, "a/data/0": floats(1, 2) }),
      /proto\.pt: holds no tensor: its data\.pkl is a dict of 1 entries/,
    );
  });

  it("a size given as a float (4.0) is no Python int", () => {
    const pickle = new PickleWriter().global("collections", "OrderedDict").op(0x29, 0x52, 0x28);
    pickle
      .string("w")
      .global("torch._utils", "_rebuild_tensor_v2")
      .op(0x28, 0x28)
      .string("storage")
      .global("torch", "FloatStorage")
      .string("0")
      .string("cpu")
      .int(4)
      .op(0x74, 0x51);
    // offset 0, size (4.0,) as BINFLOAT, stride (1,)
    pickle
      .int(0)
      .op(0x28, 0x47, ...Buffer.from([0x40, 0x10, 0, 0, 0, 0, 0, 0]), 0x74)
      .tuple([1])
      .op(0x89, 0x7d, 0x74, 0x52, 0x75);
    refusedByCli(
      craftZip("floatsize.pt", { "a/data.pkl": pickle.done(), "a/data/0": floats(1, 2, 3, 4) }),
      /floatsize\.pt: data\.pkl has a tensor whose size is not a tuple of non-negative integers/,
    );
  });

  it("a stride-0 view of 2^28 elements over a 4-byte storage is refused from data.pkl", () => {
    const path = craftZip("stride0.pt", {
      "a/data.pkl": statePickle({ w: { key: "0", numel: 1, offset: 0, size: [2 ** 28], stride: [0] } }),
      "a/data/0": floats(7),
    });
    refusedByCli(
      path,
      /stride0\.pt:w: views 268435456 elements \(shape \[268435456\], stride \[0\]\) from 1 stored ones: a repeated \(stride-0\) view this large is refused/,
    );
    const small = craftZip("stride0-small.pt", {
      "a/data.pkl": statePickle({ w: { key: "0", numel: 1, offset: 0, size: [3, 2], stride: [0, 0] } }),
      "a/data/0": floats(7),
    });
    expect(Array.from(readTensor(`${small}:w`).data)).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it("a storage that inflates to 16 MiB is inflated only as far as the view reads", () => {
    const numel = 4 * 1024 * 1024;
    const storage = new Uint8Array(numel * 4);
    storage.set(floats(3, 5));
    const pickle = statePickle({ w: { key: "0", numel, offset: 0, size: [2], stride: [1] } });
    const path = join(work, "inflate.pt");
    writeFileSync(path, zipSync({ "a/data.pkl": [pickle, { level: 0 }], "a/data/0": [storage, { level: 9 }] }));
    expect(Array.from(readTensor(`${path}:w`).data)).toEqual([3, 5]);
  });
});

describe("found by the .pt fuzz (issue #22, test/fuzz/pt-fuzz.test.ts)", () => {
  it("a local header whose extra length runs a storage's data past the central directory is the archive's lie, not a file that changed", () => {
    const bytes = zipSync({
      "a/data/0": [floats(1, 2), { level: 0 }],
      "a/data.pkl": [statePickle({ w: { key: "0", numel: 2, offset: 0, size: [2], stride: [1] } }), { level: 0 }],
    });
    new DataView(bytes.buffer).setUint16(28, 0xffff, true); // the first local header's extra field length
    const path = join(work, "local-extra.pt");
    writeFileSync(path, bytes);
    const attempt = () => openTorchPt(path).read("w");
    expect(attempt).toThrow(InputFileError);
    expect(attempt).toThrow(
      /local-extra\.pt: member a\/data\/0: its local header's name and extra fields \(65543 bytes\) put its 8 bytes of data past the central directory$/,
    );
  });

  it("a MARK is no value: DUP or BINPUT of one is refused (a copied MARK became a storage key with no mark to pop)", () => {
    // MARK DUP TUPLE: read as a 1-tuple holding the mark sentinel before.
    const dup = craftZip("dup-mark.pt", { "a/data.pkl": new PickleWriter().op(0x28, 0x32, 0x74).done() });
    expect(() => openTorchPt(dup)).toThrow(
      /dup-mark\.pt: data\.pkl is not a pickle bn-check can read \(reads a mark as a value \(at byte 4\)\)$/,
    );
    // MARK BINPUT 0 POP_MARK BINGET 0: the sentinel fetched back from the memo.
    const memo = craftZip("memo-mark.pt", { "a/data.pkl": new PickleWriter().op(0x28, 0x71, 0, 0x31, 0x68, 0).done() });
    expect(() => openTorchPt(memo)).toThrow(
      /memo-mark\.pt: data\.pkl is not a pickle bn-check can read \(reads a mark as a value/,
    );
    // MARK then POP still drops the mark (POP of a mark is how pickle discards one).
    const pop = craftZip("pop-mark.pt", { "a/data.pkl": new PickleWriter().op(0x4e, 0x28, 0x30).done() });
    expect(() => openTorchPt(pop)).toThrow(/pop-mark\.pt: holds no tensor: its data\.pkl is None$/);
  });

  it("a storage offset that is a dict is named in Python's words, not as [object Map]", () => {
    const pickle = new PickleWriter().global("collections", "OrderedDict").op(0x29, 0x52, 0x28);
    pickle
      .string("w")
      .global("torch._utils", "_rebuild_tensor_v2")
      .op(0x28, 0x28)
      .string("storage")
      .global("torch", "FloatStorage")
      .string("0")
      .string("cpu")
      .int(2)
      .op(0x74, 0x51);
    pickle.op(0x7d).tuple([2]).tuple([1]).op(0x89, 0x7d, 0x74, 0x52, 0x75);
    const path = craftZip("dict-offset.pt", { "a/data.pkl": pickle.done(), "a/data/0": floats(1, 2) });
    expect(() => openTorchPt(path)).toThrow(/dict-offset\.pt: data\.pkl has a tensor with storage offset a dict$/);
  });
});

describe("tensors inside foreign records", () => {
  it("a record's call arguments are walked by position (tensors wherever they sit)", () => {
    // {"r": some.module.Record(<tensor>)}: REDUCE of an unknown global with a tensor argument.
    const pickle = new PickleWriter().op(0x7d, 0x28).string("r").global("some.module", "Record").op(0x28);
    pickle
      .global("torch._utils", "_rebuild_tensor_v2")
      .op(0x28, 0x28)
      .string("storage")
      .global("torch", "FloatStorage")
      .string("0")
      .string("cpu")
      .int(2)
      .op(0x74, 0x51);
    pickle.int(0).tuple([2]).tuple([1]).op(0x89, 0x7d, 0x74, 0x52, 0x74, 0x52, 0x75);
    const path = craftZip("record-args.pt", { "a/data.pkl": pickle.done(), "a/data/0": floats(4, 5) });
    expect(openTorchPt(path).names).toEqual(["r.0"]);
    expect(Array.from(readTensor(`${path}:r.0`).data)).toEqual([4, 5]);
  });
});
