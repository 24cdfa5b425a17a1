// The Keras reader on files h5py wrote in Keras' layouts (fixtures/generate_keras.py): values equal
// to the .npy beside them, the names of each layout (Keras 2 weight_names, Keras 3 vars with and
// without config.json), its refusals (each one line naming the file), a fast-check fuzz of mutated
// and truncated files, and a BatchNormalization layer checked through the CLI from a .keras file.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { unzipSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { MAX_WEIGHTS_BYTES, openKeras } from "../../src/io/keras.js";
import { toSnakeCase } from "../../src/io/keras-names.js";
import { readTensor } from "../../src/io/read-tensor.js";
import { readNpy } from "../../src/io/npy/read-npy.js";
import { roundToFloat16 } from "../../src/core/formats.js";
import { FIXTURES, ROOT, runCli } from "../helpers.js";

const DIR = join(FIXTURES, "keras");
const work = mkdtempSync(join(tmpdir(), "bn-check-keras-"));
const npy = (name: string) => Array.from(readNpy(join(DIR, `${name}.npy`)).data);
const values = (spec: string) => Array.from(readTensor(spec).data);
const BN = ["gamma", "beta", "moving_mean", "moving_variance"];
const NOSCALE = ["beta", "moving_mean", "moving_variance"];

/** A .keras zip of the given members, stored as Keras stores them. */
function kerasZip(name: string, members: Record<string, Uint8Array | string>): string {
  const path = join(work, name);
  const entries = Object.fromEntries(
    Object.entries(members).map(([key, value]) => [
      key,
      [typeof value === "string" ? new TextEncoder().encode(value) : value, { level: 0 }] as const,
    ]),
  );
  writeFileSync(path, zipSync(entries as Parameters<typeof zipSync>[0]));
  return path;
}

describe("names of each Keras layout", () => {
  const keras2 = ["conv/kernel", "conv/bias", ...BN.map((v) => `bn/${v}`), ...NOSCALE.map((v) => `bn_noscale/${v}`)];
  it("Keras 2 model.save (.h5 with model_weights): layer_names order, weight names without ':0', no optimizer state", () => {
    expect(openKeras(join(DIR, "keras2-model.h5")).names).toEqual(keras2);
  });
  it("Keras 2 save_weights (layers at the root): the same names", () => {
    expect(openKeras(join(DIR, "keras2-weights.h5")).names).toEqual(keras2);
  });
  it("Keras 3 .keras: layer names from the vars' name attribute, BatchNormalization variables by config.json (scale=False has no gamma)", () => {
    expect(openKeras(join(DIR, "keras3-model.keras")).names).toEqual([
      ...BN.map((v) => `bn/${v}`),
      ...NOSCALE.map((v) => `bn_noscale/${v}`),
      "conv/vars/0",
      "conv/vars/1",
      "optimizer/vars/0",
      "optimizer/vars/1",
    ]);
  });
  it("Keras 3 .keras before 3.6 (no name attributes), nested Sequential in a Functional: names from config.json, center=False has no beta", () => {
    expect(openKeras(join(DIR, "keras3-nested-v30.keras")).names).toEqual([
      ...BN.map((v) => `outer_bn/${v}`),
      "inner_bn/gamma",
      "inner_bn/moving_mean",
      "inner_bn/moving_variance",
    ]);
  });
  it("Keras 3 bare .weights.h5 (no config): four batch-norm variables are named, three (which flag is off is unknown) keep their numbers", () => {
    const tail = ["vars/0", "vars/1", "vars/2"];
    expect(openKeras(join(DIR, "keras3-bare.weights.h5")).names).toEqual([
      ...BN.map((v) => `bn/${v}`),
      ...tail.map((v) => `bn_noscale/${v}`),
      "conv/vars/0",
      "conv/vars/1",
      "optimizer/vars/0",
      "optimizer/vars/1",
    ]);
    expect(openKeras(join(DIR, "keras3-bare-v30.weights.h5")).names).toEqual([
      ...BN.map((v) => `batch_normalization/${v}`),
      ...tail.map((v) => `batch_normalization_1/${v}`),
      "conv2d/vars/0",
      "conv2d/vars/1",
      "optimizer/vars/0",
      "optimizer/vars/1",
    ]);
  });
  it("snake-cases class names as Keras does", () => {
    expect(["BatchNormalization", "ReLU", "Conv2D", "Dense", "LayerNormalization", "PReLU"].map(toSnakeCase)).toEqual([
      "batch_normalization",
      "re_lu",
      "conv2d",
      "dense",
      "layer_normalization",
      "p_re_lu",
    ]);
  });
});

describe("values equal to what h5py wrote", () => {
  for (const file of ["keras2-model.h5", "keras2-weights.h5", "keras3-model.keras", "keras3-bare.weights.h5"]) {
    it(`${file}: the BatchNormalization layers and the conv kernel`, () => {
      const path = join(DIR, file);
      for (const v of BN) expect(values(`${path}:bn/${v}`)).toEqual(npy(`bn-${v}`));
      const noscale = file === "keras3-bare.weights.h5" ? ["vars/0", "vars/1", "vars/2"] : NOSCALE;
      noscale.forEach((v, i) => {
        expect(values(`${path}:bn_noscale/${v}`)).toEqual(npy(`bn_noscale-${NOSCALE[i]}`));
      });
      const kernel = readTensor(`${path}:conv/${file.startsWith("keras2") ? "kernel" : "vars/0"}`);
      expect(kernel.dtype).toBe("float32");
      expect(kernel.shape).toEqual([3, 3, 3, 3]);
      expect(Array.from(kernel.data)).toEqual(npy("conv-kernel"));
    });
  }

  it("the nested model's layers hold their own values", () => {
    const path = join(DIR, "keras3-nested-v30.keras");
    expect(values(`${path}:inner_bn/gamma`)).toEqual(npy("bn-gamma"));
    expect(values(`${path}:inner_bn/moving_variance`)).toEqual(npy("bn-moving_variance"));
    expect(values(`${path}:outer_bn/beta`)).toEqual(npy("bn-beta"));
  });

  it("float16 weights: dtype float16, values rounded to float16", () => {
    const tensor = readTensor(`${join(DIR, "keras2-float16.h5")}:bn/gamma`);
    expect(tensor.dtype).toBe("float16");
    expect(Array.from(tensor.data)).toEqual(npy("bn-gamma").map(roundToFloat16));
    expect(Array.from(tensor.data)).not.toEqual(npy("bn-gamma"));
    expect(readTensor(`${join(DIR, "keras3-float16.weights.h5")}:bn/moving_variance`).dtype).toBe("float16");
  });

  it("float64 weights: dtype float64, the float32 values exactly", () => {
    const tensor = readTensor(`${join(DIR, "keras3-float64.weights.h5")}:bn/moving_mean`);
    expect(tensor.dtype).toBe("float64");
    expect(tensor.data).toBeInstanceOf(Float64Array);
    expect(Array.from(tensor.data)).toEqual(npy("bn-moving_mean"));
  });

  it("chunked and deflated datasets", () => {
    expect(values(`${join(DIR, "compressed.weights.h5")}:batch_normalization/moving_mean`)).toEqual(
      npy("bn-moving_mean"),
    );
  });

  it("data in shared memory; integers through readInteger only", () => {
    expect(readTensor(`${join(DIR, "keras3-model.keras")}:bn/gamma`).data.buffer).toBeInstanceOf(SharedArrayBuffer);
    const archive = openKeras(join(DIR, "keras3-model.keras"));
    expect(archive.readInteger("optimizer/vars/0")).toBe(7);
    expect(values(`${join(DIR, "keras3-model.keras")}:optimizer/vars/1`)).toEqual([Math.fround(1e-3)]);
  });
});

describe("refusals, each one line naming the file", () => {
  const keras3 = readFileSync(join(DIR, "keras3-model.keras"));
  const weightsMember = readFileSync(join(DIR, "keras3-bare.weights.h5"));
  const config = JSON.stringify({ class_name: "Sequential", config: { layers: [] } });
  const cases: [string, () => void, RegExp][] = [
    [
      "a file that is not HDF5",
      () => openKeras(join(DIR, "not-hdf5.h5")),
      /not-hdf5\.h5: is not an HDF5 file \(it does not start with the HDF5 signature\)/,
    ],
    [
      "an integer dataset read as a tensor",
      () => readTensor(`${join(DIR, "odd-dtypes.weights.h5")}:batch_normalization/gamma`),
      /odd-dtypes\.weights\.h5:batch_normalization\/gamma: is a dataset of int32: bn-check checks float16, float32 and float64 tensors/,
    ],
    [
      "a string dataset",
      () => readTensor(`${join(DIR, "odd-dtypes.weights.h5")}:batch_normalization/beta`),
      /odd-dtypes\.weights\.h5:batch_normalization\/beta: is a dataset of strings: bn-check checks/,
    ],
    [
      "an optimizer counter read as a tensor",
      () => readTensor(`${join(DIR, "keras3-model.keras")}:optimizer/vars/0`),
      /keras3-model\.keras:optimizer\/vars\/0: is a dataset of int64: bn-check checks/,
    ],
    [
      "a float read as an integer",
      () => openKeras(join(DIR, "keras3-model.keras")).readInteger("bn/gamma"),
      /keras3-model\.keras:bn\/gamma: is a dataset of float32: an integer is expected here/,
    ],
    [
      "a name the file does not hold",
      () => readTensor(`${join(DIR, "keras3-model.keras")}:bn/weight`),
      /keras3-model\.keras:bn\/weight: no variable 'bn\/weight' in the file \(it holds bn\/gamma, bn\/beta, /,
    ],
    [
      "no name when the file holds several",
      () => readTensor(join(DIR, "keras2-model.h5")),
      /keras2-model\.h5: holds 9 variables \(.*\): name one as .*keras2-model\.h5:<name>/,
    ],
    [
      "a shape the file cannot hold, never written",
      () => readTensor(`${join(DIR, "unwritten.weights.h5")}:dense/vars/0`),
      /unwritten\.weights\.h5:dense\/vars\/0: declares 1,000,000,000 values \(shape \[1000000000\]\) but its data was never written: it holds no tensor$/,
    ],
    [
      "a dataset never written",
      () => readTensor(`${join(DIR, "unwritten.weights.h5")}:dense/vars/1`),
      /unwritten\.weights\.h5:dense\/vars\/1: declares 3 values \(shape \[3\]\) but its data was never written/,
    ],
    [
      "a .keras without model.weights.h5",
      () => openKeras(join(DIR, "no-weights.keras")),
      /no-weights\.keras: has no model\.weights\.h5 \(it holds metadata\.json, config\.json\): not a Keras 3 model archive bn-check reads/,
    ],
    [
      "a .keras whose weights are not HDF5",
      () => openKeras(kerasZip("text.keras", { "config.json": config, "model.weights.h5": "hello" })),
      /text\.keras:model\.weights\.h5: is not an HDF5 file/,
    ],
    [
      "a .keras whose config.json is not JSON",
      () => openKeras(kerasZip("config.keras", { "config.json": "{nope", "model.weights.h5": weightsMember })),
      /config\.keras:config\.json: is not valid UTF-8 JSON/,
    ],
    ["a missing file", () => openKeras(join(work, "missing.keras")), /missing\.keras: no such file/],
    [
      "a .keras that is not a zip archive",
      () => {
        const path = join(work, "plain.keras");
        writeFileSync(path, readFileSync(join(DIR, "keras2-model.h5")));
        openKeras(path);
      },
      /plain\.keras: is not a readable \.keras \(zip\) archive: no end-of-central-directory record/,
    ],
    [
      "an .h5 above the size limit (a sparse file: nothing is read)",
      () => {
        const path = join(work, "huge.h5");
        writeFileSync(path, weightsMember);
        truncateSync(path, MAX_WEIGHTS_BYTES + 1);
        openKeras(path);
      },
      /huge\.h5: is 1,073,741,825 bytes: more than the 1,073,741,824 bn-check holds in memory for a Keras file/,
    ],
    [
      "a .keras whose weights member states a size above the limit",
      () => {
        const bytes = Buffer.from(keras3);
        // The central directory entry of model.weights.h5: its uncompressed size is at offset 24.
        const entry = bytes.lastIndexOf(
          Buffer.concat([Buffer.from([0x50, 0x4b, 0x01, 0x02])]),
          bytes.lastIndexOf("model.weights.h5"),
        );
        bytes.writeUInt32LE(MAX_WEIGHTS_BYTES + 1, entry + 24);
        const path = join(work, "huge.keras");
        writeFileSync(path, bytes);
        openKeras(path);
      },
      /huge\.keras:model\.weights\.h5: is 1,073,741,825 bytes: more than the 1,073,741,824 bn-check holds in memory/,
    ],
  ];
  for (const [what, run, message] of cases) {
    it(`${what}`, () => {
      expect(run).toThrow(InputFileError);
      expect(run).toThrow(message);
    });
  }

  it("a damaged file is refused naming the file, not with jsfive's exception", () => {
    const bytes = Buffer.from(weightsMember);
    bytes.fill(0xff, 56, 200); // past the superblock's addresses: the root group's entry and header
    const path = join(work, "damaged.weights.h5");
    writeFileSync(path, bytes);
    expect(() => openKeras(path)).toThrow(
      /damaged\.weights\.h5: is damaged or uses an HDF5 feature bn-check cannot read \(/,
    );
  });

  it("a damaged superblock is refused from the superblock", () => {
    const bytes = Buffer.from(weightsMember);
    bytes.fill(0xff, 8, 200);
    const path = join(work, "superblock.weights.h5");
    writeFileSync(path, bytes);
    expect(() => openKeras(path)).toThrow(
      /superblock\.weights\.h5: has an HDF5 superblock of version 255, which bn-check does not read$/,
    );
  });
});

describe("fuzzing the Keras reader", () => {
  /** Every outcome of opening and reading every variable: tensors and numbers, or InputFileErrors. */
  function readEverything(path: string): "read" | "refused" {
    try {
      const archive = openKeras(path);
      for (const name of archive.names) {
        try {
          const tensor = archive.read(name);
          expect(tensor.data.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
        } catch (error) {
          if (!(error instanceof InputFileError)) throw error;
          if (!/is a dataset of (int|uint)/.test(error.message)) return "refused";
        }
      }
      return "read";
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      return "refused";
    }
  }
  /** A truncation, or one to six bytes overwritten, anywhere in a file of `length` bytes. */
  const mutation = (length: number) =>
    fc.oneof(
      fc.record({ cut: fc.integer({ min: 0, max: length - 1 }) }),
      fc.record({
        writes: fc.array(fc.tuple(fc.integer({ min: 0, max: length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
      }),
    );
  function mutate(original: Buffer, change: { cut?: number; writes?: [number, number][] }): Buffer {
    if (change.cut !== undefined) return original.subarray(0, change.cut);
    const bytes = Buffer.from(original);
    for (const [at, byte] of change.writes!) bytes[at] = byte;
    return bytes;
  }

  for (const [file, runs] of [
    ["keras2-model.h5", 200],
    ["keras3-bare.weights.h5", 200],
    ["keras3-model.keras", 60],
  ] as const) {
    it(`${file}: every mutated or truncated copy is read or refused with an InputFileError`, () => {
      const original = readFileSync(join(DIR, file));
      const path = join(work, `fuzz-${file}`);
      const outcomes = { read: 0, refused: 0 };
      fc.assert(
        fc.property(mutation(original.length), (change) => {
          writeFileSync(path, mutate(original, change));
          outcomes[readEverything(path)]++;
        }),
        // Unbiased: fast-check otherwise favours offsets near 0, the signature, which refuses early.
        { numRuns: runs, seed: 20261129, unbiased: true },
      );
      expect(outcomes.read + outcomes.refused).toBe(runs);
      expect(outcomes.refused).toBeGreaterThan(runs / 10);
      // In place, any change to a .keras fails the zip's CRC: the HDF5 parsing is fuzzed through the .h5 files.
      if (!file.endsWith(".keras")) expect(outcomes.read).toBeGreaterThan(runs / 10);
    }, 20_000);
  }

  it("keras3-model.keras with a mutated member, re-zipped (the zip's CRC refuses changes made in place)", () => {
    const members = unzipSync(readFileSync(join(DIR, "keras3-model.keras")));
    expect(Object.keys(members)).toEqual(["metadata.json", "config.json", "model.weights.h5"]);
    const outcomes = { read: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom("config.json", "model.weights.h5"),
        fc.integer({ min: 0, max: 1 << 20 }),
        fc.integer({ min: 0, max: 255 }),
        (member, at, byte) => {
          const bytes = Buffer.from(members[member]);
          bytes[at % bytes.length] = byte;
          outcomes[readEverything(kerasZip("fuzz-member.keras", { ...members, [member]: bytes }))]++;
        },
      ),
      { numRuns: 100, seed: 20261129, unbiased: true },
    );
    expect(outcomes.read).toBeGreaterThan(10);
  });
});

describe("jsfive is loaded on first use", () => {
  it("reading a .npy or a .safetensors does not load it; reading an .h5 does", () => {
    const script = (spec: string) => `
      import { createRequire } from "node:module";
      const { readTensor } = await import(${JSON.stringify(join(ROOT, "dist", "io", "read-tensor.js"))});
      readTensor(${JSON.stringify(spec)});
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes("jsfive"));
      process.stdout.write(String(loaded));`;
    const loaded = (spec: string) =>
      spawnSync(process.execPath, ["--input-type=module", "-e", script(spec)], { encoding: "utf8" }).stdout;
    expect(loaded(join(DIR, "bn-x.npy"))).toBe("false");
    expect(loaded(`${join(FIXTURES, "safetensors", "mixed.safetensors")}:f32`)).toBe("false");
    expect(loaded(`${join(DIR, "keras2-model.h5")}:bn/gamma`)).toBe("true");
  });
});

describe("a Keras BatchNormalization layer checked through the CLI", () => {
  const model = join(DIR, "keras3-model.keras");
  const args = (weights: string, gamma = weights) => [
    "compare",
    join(DIR, "bn-x.npy"),
    join(DIR, "bn-y.npy"),
    "--framework",
    "keras",
    "--mode",
    "eval",
    "--weight",
    `${gamma}:bn/gamma`,
    "--bias",
    `${weights}:bn/beta`,
    "--running-mean",
    `${weights}:bn/moving_mean`,
    "--running-var",
    `${weights}:bn/moving_variance`,
    "--format",
    "json",
  ];

  it("conforms with the variables named as model.keras:bn/gamma (and model.h5:bn/gamma)", () => {
    for (const weights of [model, join(DIR, "keras2-model.h5")]) {
      const run = runCli(args(weights));
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const report = JSON.parse(run.stdout);
      expect(report.tensors[0].verdict).toBe("conforms");
      expect(report.files.map((f: { path: string }) => f.path)).toContain(`${weights}:bn/gamma`);
    }
  });

  it("does not conform when gamma is perturbed by 1% in one channel", () => {
    // The bare weights file holds gamma's float32 bytes once, contiguous: change its second value.
    const bytes = Buffer.from(readFileSync(join(DIR, "keras3-bare.weights.h5")));
    const gamma = readNpy(join(DIR, "bn-gamma.npy")).data;
    const at = bytes.indexOf(Buffer.from(new Float32Array(gamma).buffer));
    expect(at).toBeGreaterThan(0);
    bytes.writeFloatLE(gamma[1] * 1.01, at + 4);
    const perturbed = join(work, "perturbed.weights.h5");
    writeFileSync(perturbed, bytes);
    expect(values(`${perturbed}:bn/gamma`)[1]).toBeCloseTo(gamma[1] * 1.01, 6);
    const run = runCli(args(model, perturbed));
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout).tensors[0].verdict).toBe("does not conform");
  });

  it("a file that is not HDF5: exit 2, one line", () => {
    const run = runCli(["diff", `${join(DIR, "not-hdf5.h5")}:bn/gamma`, join(DIR, "bn-gamma.npy")]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `bn-check: ${join(DIR, "not-hdf5.h5")}: is not an HDF5 file (it does not start with the HDF5 signature)\n`,
    );
  });
});

describe("Keras 2 names as Keras 2 writes them", () => {
  it("layer_names and weight_names are fixed-length strings padded with NULs in the fixtures, and read without the padding", () => {
    const file = join("fixtures", "keras", "keras2-weights.h5");
    // np.asarray([b"conv", b"bn", b"relu", b"bn_noscale"]) is an 'S10' array: "conv" padded to 10 bytes.
    expect(Buffer.from(readFileSync(file)).includes(Buffer.from("conv\0\0\0\0\0\0bn\0\0\0\0\0\0\0\0relu"))).toBe(true);
    const archive = openKeras(file);
    expect(archive.names).toContain("bn_noscale/beta");
    expect(archive.names).toContain("conv/kernel");
    expect(archive.names.some((name) => name.includes("\0"))).toBe(false);
  });
});

describe("dimensions of 2^32 or more", () => {
  it("a dataset declared with 2^40 elements and no data is refused, not read as an empty tensor", () => {
    const file = join("fixtures", "keras", "declared-2e40.h5");
    const run = spawnSync(process.execPath, ["bin/bn-check.cjs", "diff", `${file}:x`, `${file}:x`], {
      encoding: "utf8",
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `bn-check: ${file}:x: declares 1,099,511,627,776 values (shape ` +
        `[1099511627776]) but its data was never written: it holds no tensor\n`,
    );
  });
});

describe("chunks HDF5 does not write", () => {
  it("a chunk dimension patched to 2^31 - 1 is refused at once, one line", () => {
    const file = join("fixtures", "keras", "chunk-patched.h5");
    const run = spawnSync(process.execPath, ["bin/bn-check.cjs", "diff", `${file}:x`, `${file}:x`], {
      encoding: "utf8",
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `bn-check: ${file}:x: has chunks of [2147483647, 2] for 16 values: not chunks HDF5 writes for this dataset\n`,
    );
  });
});

describe("a .keras zip bomb", () => {
  it("a weights member that would inflate 1000x to 128 MiB is refused before inflating", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-bomb-"));
    const bomb = join(dir, "bomb.keras");
    writeFileSync(
      bomb,
      zipSync({
        "model.weights.h5": [new Uint8Array(128 * 2 ** 20), { level: 9 }],
        "config.json": [new TextEncoder().encode("{}"), { level: 0 }],
      }),
    );
    const run = spawnSync(process.execPath, ["bin/bn-check.cjs", "diff", `${bomb}:x`, `${bomb}:x`], {
      encoding: "utf8",
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /bomb\.keras:model\.weights\.h5: inflates [\d,]+ bytes to 134,217,728 \(\d+x\): weights do not compress that far; refused as a zip bomb\n$/,
    );
  });
});

describe("only the HDF5 file a member holds is inflated", () => {
  const weights = readFileSync(join(DIR, "keras3-bare.weights.h5"));
  /** A .keras whose model.weights.h5 is `member`, deflated; its central directory's CRC-32 set to `crc` when given. */
  function keras(name: string, member: Uint8Array, crc?: number): string {
    const bytes = Buffer.from(zipSync({ "model.weights.h5": [member, { level: 6 }] }));
    if (crc !== undefined) bytes.writeUInt32LE(crc, bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 16);
    const path = join(work, name);
    writeFileSync(path, bytes);
    return path;
  }

  it("a member padded with 48 MiB after the end its superblock states: the padding is never inflated (a damaged CRC there goes unseen), the weights read", () => {
    const padded = new Uint8Array(weights.length + 48 * 2 ** 20);
    padded.set(weights);
    const path = keras("padded.keras", padded, 0xdeadbeef);
    expect(values(`${path}:bn/gamma`)).toEqual(npy("bn-gamma"));
  });

  it("a member shorter than its superblock says is refused as truncated, one line", () => {
    const path = keras("truncated.keras", weights.subarray(0, weights.length - 100));
    expect(() => openKeras(path)).toThrow(
      `${path}:model.weights.h5: is truncated: its HDF5 superblock says ` +
        `it ends at byte ${weights.length.toLocaleString("en-US")}, but ` +
        `it holds ${(weights.length - 100).toLocaleString("en-US")} bytes`,
    );
  });
});
