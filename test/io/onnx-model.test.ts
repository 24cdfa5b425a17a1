// The ONNX model reader on real models (exported by torch, folded by onnxruntime) and on hostile files
// built here byte by byte: each is refused with one line naming the file, in bounded time and memory.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { afterAll, describe, expect, it } from "vitest";
import { readOnnxModel } from "../../src/io/onnx-model.js";
import { FIXTURES, runCli, seededRandom } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "bn-check-onnx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Field = [number, "varint" | "bytes" | "string" | "message", number | Uint8Array | string];

/** A protobuf message from (field, kind, value) triples, in order. */
function message(fields: readonly Field[]): Uint8Array {
  const writer = protobuf.Writer.create();
  for (const [field, kind, value] of fields) {
    if (kind === "varint") writer.uint32((field << 3) | 0).int64(value as number);
    else if (kind === "string") writer.uint32((field << 3) | 2).string(value as string);
    else writer.uint32((field << 3) | 2).bytes(value as Uint8Array);
  }
  return writer.finish();
}

function tensor(name: string, dims: readonly number[], raw: Uint8Array, extra: Field[] = []): Uint8Array {
  return message([
    ...dims.map((d): Field => [1, "varint", d]),
    [2, "varint", 1],
    [8, "string", name],
    [9, "bytes", raw],
    ...extra,
  ]);
}

function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  name = "",
  attributes: Uint8Array[] = [],
): Uint8Array {
  return message([
    ...inputs.map((i): Field => [1, "string", i]),
    ...outputs.map((o): Field => [2, "string", o]),
    [3, "string", name],
    [4, "string", opType],
    ...attributes.map((a): Field => [5, "message", a]),
  ]);
}

function model(nodes: Uint8Array[], initializers: Uint8Array[], inputs: string[] = ["x"]): Uint8Array {
  const graph = message([
    ...nodes.map((n): Field => [1, "message", n]),
    ...initializers.map((t): Field => [5, "message", t]),
    ...inputs.map((i): Field => [11, "message", message([[1, "string", i]])]),
  ]);
  return message([
    [1, "varint", 8],
    [7, "message", graph],
    [8, "message", message([[2, "varint", 13]])],
  ]);
}

const floats = (values: readonly number[]) => new Uint8Array(Float32Array.from(values).buffer);

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** A Conv → BatchNormalization model whose conv weight is `weight` (a value name). */
function convBn(weightInit: Uint8Array[], weight = "w", extraNodes: Uint8Array[] = []): Uint8Array {
  const c = 2;
  const params = ["g", "b", "m", "v"].map((n, k) => tensor(n, [c], floats(k === 3 ? [1, 2] : [0.5, 0.25])));
  return model(
    [
      ...extraNodes,
      node("Conv", ["x", weight], ["y"], "conv"),
      node("BatchNormalization", ["y", "g", "b", "m", "v"], ["z"], "bn"),
    ],
    [...weightInit, ...params],
  );
}

function foldWith(params: string) {
  return runCli(["fold", "--params", params, "--folded", join(FIXTURES, "fold", "small_folded.pt")]);
}

function expectRefused(run: ReturnType<typeof runCli>, file: string, problem: RegExp) {
  expect(run.status, run.stdout).toBe(2);
  const lines = run.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(file);
  expect(lines[0]).toMatch(problem);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe("readOnnxModel on real models", () => {
  it("reads torch's unfused export: nodes, epsilon, initializers by edges", () => {
    const m = readOnnxModel(join(FIXTURES, "fold", "small_unfused.onnx"));
    const bns = m.nodes.filter((n) => n.opType === "BatchNormalization");
    expect(bns).toHaveLength(3);
    const conv = m.producer(bns[0].inputs[0]);
    expect(conv?.opType).toBe("Conv");
    const w = m.constant(conv?.inputs[1] ?? "");
    expect(w?.name).toBe("seq.0.weight");
    expect(w?.shape).toEqual([6, 4, 3]);
    expect(w?.read().data.length).toBe(72);
    expect(bns[0].attributes.get("epsilon")).toBeCloseTo(1e-5, 12);
    expect(m.opset).toBe(13);
  });

  it("reads onnxruntime's fold with its ConvBnFusion names", () => {
    const m = readOnnxModel(join(FIXTURES, "fold", "small_ort.onnx"));
    expect(m.initializerNames.some((n) => n.startsWith("ConvBnFusion_W_"))).toBe(true);
  });

  it("resolves Constant nodes and Identity chains to the tensor they hold", () => {
    const value = message([
      [1, "string", "value"],
      [5, "message", tensor("wc", [2, 1, 1, 1], floats([3, 4]))],
      [20, "varint", 4],
    ]);
    const path = write(
      "constant.onnx",
      convBn([], "w2", [
        node("Constant", [], ["w0"], "const", [value]),
        node("Identity", ["w0"], ["w1"]),
        node("Identity", ["w1"], ["w2"]),
      ]),
    );
    const m = readOnnxModel(path);
    expect(Array.from(m.constant("w2")?.read().data ?? [])).toEqual([3, 4]);
  });

  it("reads external data beside the model, and refuses a location outside its folder", () => {
    const folder = join(dir, "external");
    mkdirSync(folder);
    writeFileSync(join(folder, "weights.bin"), floats([0, 0, 7, 8]));
    const external = (location: string): Field[] => [
      [
        13,
        "message",
        message([
          [1, "string", "location"],
          [2, "string", location],
        ]),
      ],
      [
        13,
        "message",
        message([
          [1, "string", "offset"],
          [2, "string", "8"],
        ]),
      ],
      [14, "varint", 1],
    ];
    const inside = join(folder, "inside.onnx");
    writeFileSync(
      inside,
      convBn([
        message([
          [1, "varint", 2],
          [1, "varint", 1],
          [1, "varint", 1],
          [1, "varint", 1],
          [2, "varint", 1],
          [8, "string", "w"],
          ...external("weights.bin"),
        ]),
      ]),
    );
    expect(Array.from(readOnnxModel(inside).constant("w")?.read().data ?? [])).toEqual([7, 8]);
    for (const [name, location] of [
      ["dotdot.onnx", "../secret.bin"],
      ["absolute.onnx", "/etc/passwd"],
    ]) {
      const path = join(folder, name);
      writeFileSync(
        path,
        convBn([
          message([
            [1, "varint", 2],
            [1, "varint", 1],
            [1, "varint", 1],
            [1, "varint", 1],
            [2, "varint", 1],
            [8, "string", "w"],
            ...external(location),
          ]),
        ]),
      );
      expectRefused(foldWith(path), name, /outside the model's folder: refused/);
    }
    symlinkSync("/etc/hostname", join(folder, "link.bin"));
    const linked = join(folder, "linked.onnx");
    writeFileSync(
      linked,
      convBn([
        message([
          [1, "varint", 2],
          [1, "varint", 1],
          [1, "varint", 1],
          [1, "varint", 1],
          [2, "varint", 1],
          [8, "string", "w"],
          ...external("link.bin"),
        ]),
      ]),
    );
    expectRefused(foldWith(linked), "linked.onnx", /a link that leads outside the model's folder/);
  });
});

describe("readOnnxModel on hostile files", () => {
  it("random bytes and an .npy renamed .onnx are not ONNX models", () => {
    const random = seededRandom(3);
    const bytes = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256));
    expectRefused(foldWith(write("random.onnx", bytes)), "random.onnx", /is not (a valid )?(an )?ONNX model/);
    const npy = write("renamed.onnx", readFileSync(join(FIXTURES, "classic", "input.npy")));
    expectRefused(foldWith(npy), "renamed.onnx", /ONNX model/);
  });

  it("a truncated model and a length that runs past the end", () => {
    const whole = readFileSync(join(FIXTURES, "fold", "small_unfused.onnx"));
    expectRefused(
      foldWith(write("truncated.onnx", whole.subarray(0, Math.floor(whole.length / 2)))),
      "truncated.onnx",
      /not a valid ONNX model|runs past the end/,
    );
    const lying = Uint8Array.from([0x08, 0x08, 0x3a, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0x00]);
    expectRefused(foldWith(write("lying.onnx", lying)), "lying.onnx", /not a valid ONNX model/);
  });

  it("an Identity cycle, and a node that reads a value nothing defines", () => {
    const cycle = convBn([], "a", [node("Identity", ["b"], ["a"]), node("Identity", ["a"], ["b"])]);
    const run = foldWith(write("cycle.onnx", cycle));
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expectRefused(
      foldWith(write("undefined.onnx", convBn([], "nowhere"))),
      "undefined.onnx",
      /node conv reads 'nowhere', which no node, initializer or graph input defines/,
    );
  });

  it("dims of 2^40 elements, negative dims and a Constant that claims far more than it holds", () => {
    const huge = convBn([tensor("w", [2 ** 20, 2 ** 20, 1, 1], floats([1]))]);
    expectRefused(
      foldWith(write("huge.onnx", huge)),
      "huge.onnx",
      /raw_data holds 4 bytes; dims \[1048576, 1048576, 1, 1\] of FLOAT need 4398046511104/,
    );
    const negative = convBn([tensor("w", [-2, 1, 1, 1], floats([1, 2]))]);
    expectRefused(foldWith(write("negative.onnx", negative)), "negative.onnx", /invalid dims/);
    const value = message([
      [1, "string", "value"],
      [5, "message", tensor("big", [1_000_000_000, 1, 1, 1], new Uint8Array(0))],
      [20, "varint", 4],
    ]);
    const constant = convBn([], "w", [node("Constant", [], ["w"], "const", [value])]);
    expectRefused(
      foldWith(write("constant-claims.onnx", constant)),
      "constant-claims.onnx",
      /float_data holds 0 values; dims \[1000000000, 1, 1, 1\] need 1000000000/,
    );
  });

  it("a seeded fuzz over a real model: every mutation reads or is refused in one line", () => {
    const original = readFileSync(join(FIXTURES, "fold", "small_unfused.onnx"));
    const random = seededRandom(2026);
    for (let k = 0; k < 200; k++) {
      const bytes = Uint8Array.from(original);
      const flips = 1 + Math.floor(random() * 8);
      for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const path = write(`fuzz-${k}.onnx`, bytes);
      try {
        const m = readOnnxModel(path);
        for (const name of m.initializerNames) {
          try {
            m.constant(name)?.read();
          } catch (error) {
            expect((error as Error).name).toBe("InputFileError");
          }
        }
      } catch (error) {
        expect((error as Error).name, String(error)).toBe("InputFileError");
        expect((error as Error).message).toContain(path);
        expect((error as Error).message).not.toContain("\n");
      }
    }
  });
});
