import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { readOnnxNodeTest } from "../../src/io/onnx-node-test.js";
import { readTensor } from "../../src/io/read-tensor.js";
import { readNpy } from "../../src/io/npy/read-npy.js";
import { encodeNpy } from "../../src/io/npy/write-npy.js";
import { tensorFromArray } from "../../src/core/tensor.js";
import { FIXTURES } from "../helpers.js";

describe("ONNX TensorProto files written by the onnx package", () => {
  for (const name of ["f32-raw", "f32-typed", "f64-raw", "f64-typed", "f16-raw", "f16-typed", "bf16-typed"]) {
    it(`${name}.pb holds the same values as ${name}.npy`, () => {
      const proto = readTensor(join(FIXTURES, "pb", `${name}.pb`));
      const npy = readNpy(join(FIXTURES, "pb", `${name}.npy`));
      expect(proto.shape).toEqual([2, 3, 2]);
      expect(proto.dtype).toBe(name.startsWith("bf16") ? "float32" : npy.dtype);
      expect(Array.from(proto.data)).toEqual(Array.from(npy.data));
      if (name.startsWith("bf16")) expect(proto.precision).toBe("bfloat16");
    });
  }

  it("refuses an integer TensorProto, naming the file and the type", () => {
    expect(() => readTensor(join(FIXTURES, "pb", "i32.pb"))).toThrow(
      /i32\.pb: is a TensorProto of INT32: bn-check checks FLOAT16, BFLOAT16, FLOAT and DOUBLE tensors/,
    );
  });
});

describe("ONNX node-test folders (the ONNX project's own test data)", () => {
  it("reads attributes, inputs and outputs of a training-mode test", () => {
    const test = readOnnxNodeTest(join(FIXTURES, "onnx-node", "test_batchnorm_epsilon_training_mode"));
    expect(test.epsilon).toBe(Math.fround(1e-2));
    expect(test.momentum).toBe(0.9); // attribute absent: the operator's default
    expect(test.trainingMode).toBe(true);
    expect(test.opset).toBe(15);
    expect(test.input.shape).toEqual([2, 3, 4, 5]);
    expect(test.referenceRunningVar?.shape).toEqual([3]);
  });

  it("refuses an attribute of the wrong ONNX type, naming the model and the attribute", () => {
    // The fixture's epsilon is FLOAT (AttributeProto.type, field 20: bytes a0 01 01); make it INT.
    const source = join(FIXTURES, "onnx-node", "test_batchnorm_epsilon_training_mode");
    const dir = mkdtempSync(join(tmpdir(), "bn-onnx-attr-"));
    cpSync(source, dir, { recursive: true });
    const model = readFileSync(join(dir, "model.onnx"));
    const typeField = model.indexOf(Buffer.from([0xa0, 0x01, 0x01]), model.indexOf("epsilon"));
    expect(typeField).toBeGreaterThan(0);
    model[typeField + 2] = 2;
    writeFileSync(join(dir, "model.onnx"), model);
    expect(() => readOnnxNodeTest(dir)).toThrow(
      /model\.onnx: attribute epsilon has type 2; BatchNormalization needs FLOAT/,
    );
  });

  it("takes parameters from the model's initializers when the data set feeds only X", () => {
    const test = readOnnxNodeTest(join(FIXTURES, "onnx-node", "test_BatchNorm2d_eval"));
    expect(test.trainingMode).toBe(false);
    expect(test.weight?.shape).toEqual([3]);
    expect(test.runningVar?.shape).toEqual([3]);
  });
});

describe(".npz archives", () => {
  const dir = mkdtempSync(join(tmpdir(), "bn-check-npz-"));
  const a = encodeNpy(tensorFromArray([1, 2, 3, 4], [2, 2], "float32"));
  const b = encodeNpy(tensorFromArray([5, 6], [2], "float64"));
  writeFileSync(join(dir, "two.npz"), zipSync({ "a.npy": a, "b.npy": b }, { level: 6 }));
  writeFileSync(join(dir, "one.npz"), zipSync({ "only.npy": b }, { level: 0 }));

  it("selects a member with file.npz:name, compressed or stored", () => {
    expect(Array.from(readTensor(join(dir, "two.npz:a")).data)).toEqual([1, 2, 3, 4]);
    expect(readTensor(join(dir, "two.npz:b")).dtype).toBe("float64");
    expect(Array.from(readTensor(join(dir, "one.npz")).data)).toEqual([5, 6]);
  });

  it("asks for a name when the archive holds several arrays, and names the missing one", () => {
    expect(() => readTensor(join(dir, "two.npz"))).toThrow(/holds 2 arrays \(a, b\): name one as/);
    expect(() => readTensor(join(dir, "two.npz:c"))).toThrow(
      /two\.npz:c: no array 'c' in the archive \(it holds a, b\)/,
    );
  });

  it("reads numpy's own savez_compressed output when numpy is at hand, and refuses a non-zip", () => {
    writeFileSync(join(dir, "bad.npz"), "not a zip");
    expect(() => readTensor(join(dir, "bad.npz"))).toThrow(/bad\.npz: is not a readable \.npz \(zip\) archive/);
  });
});
