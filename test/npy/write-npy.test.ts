import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy } from "../../src/io/npy/read-npy.js";
import { tensorFromArray } from "../../src/core/tensor.js";
import { encodeNpyHeader, writeNpy } from "../../src/io/npy/write-npy.js";
import { FIXTURES, pythonWithNumpy } from "../helpers.js";

describe("writeNpy", () => {
  it("writes the same version 1.0 header, padded to 64 bytes, that numpy wrote for the fixtures", () => {
    for (const [file, dtype, shape] of [
      ["f32-le.npy", "float32", [2, 3, 4]],
      ["f16-le.npy", "float16", [4, 3]],
      ["f64-scalar-dims.npy", "float64", [1, 1]],
    ] as const) {
      const written = readFileSync(join(FIXTURES, "npy", file));
      const header = encodeNpyHeader(dtype, shape);
      expect(header.length % 64).toBe(0);
      expect(Buffer.from(header).equals(written.subarray(0, header.length))).toBe(true);
    }
    expect(Buffer.from(encodeNpyHeader("float16", [3]).subarray(10)).toString("latin1")).toMatch(/'shape': \(3,\), \}/);
  });

  it("round-trips every float dtype through its own reader", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-"));
    for (const dtype of ["float16", "float32", "float64"] as const) {
      const values = [0, -0, 1.5, -2.25, 1e-3, 65504, Infinity, NaN];
      const path = join(dir, `${dtype}.npy`);
      writeNpy(path, tensorFromArray(values, [2, 4], dtype));
      const back = readNpy(path);
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([2, 4]);
      const expected = values.map((v) =>
        dtype === "float16" && v === 1e-3 ? 0.0010004043579101562 : dtype === "float32" ? Math.fround(v) : v,
      );
      expect(Array.from(back.data)).toEqual(expected);
    }
  });

  it("writes files that numpy reads back exactly (checked with numpy when an interpreter has it)", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-"));
    const path = join(dir, "x.npy");
    writeNpy(path, tensorFromArray([1, 2.5, -3, 0.1, 7, 8], [2, 3], "float64"));
    const python = pythonWithNumpy();
    if (python !== null) {
      const run = spawnSync(
        python,
        ["-c", "import numpy as np,sys; a=np.load(sys.argv[1]); print(a.dtype, a.shape, a.tolist())", path],
        { encoding: "utf8" },
      );
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe("float64 (2, 3) [[1.0, 2.5, -3.0], [0.1, 7.0, 8.0]]");
    }
    // Always: the bytes are those numpy's writer produces for this array (header verified above).
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(128 + 6 * 8);
    expect(bytes.readDoubleLE(128 + 3 * 8)).toBe(0.1);
  });
});
