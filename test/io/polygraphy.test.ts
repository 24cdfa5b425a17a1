// The Polygraphy JSON reader on --save-results and --save-inputs files written in Polygraphy's own
// encoding (fixtures/generate_torch_pt.py, after polygraphy/json/serde.py), compared with the
// arrays numpy held (fixtures/polygraphy/expected.npz); the naming scheme; every refusal; a fuzz
// of damaged files; and the real CLI on file.json:name arguments.
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { openPolygraphy, readPolygraphy } from "../../src/io/polygraphy.js";
import { readTensor } from "../../src/io/read-tensor.js";
import { FIXTURES, layerCompareArgs, runCli } from "../helpers.js";

const DIR = join(FIXTURES, "polygraphy");
const RESULTS = join(DIR, "results.json");
const EXPECTED = join(DIR, "expected.npz");
const ONNXRT = "onnxrt-runner-N0-07/15/24-13:02:22";
const TRT = "trt-runner-N0-07/15/24-13:02:22";
const OUTPUT = "/bn/BatchNormalization_output_0";
const work = mkdtempSync(join(tmpdir(), "bn-check-polygraphy-"));

function expectSameValues(spec: string, expectedKey: string): void {
  const tensor = readTensor(spec);
  const expected = readTensor(`${EXPECTED}:${expectedKey}`);
  expect(tensor.shape).toEqual([2, 4, 3, 3]);
  expect(Array.from(tensor.data)).toEqual(Array.from(expected.data));
}

function writeJson(name: string, value: unknown): string {
  const path = join(work, name);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
}

const npyBase64 = (path: string, key: string) => {
  // The .npy bytes of a fixture array, taken from an existing Polygraphy file.
  const results = JSON.parse(readFileSync(path, "utf8"));
  return results.lst[0][1][0].outputs[key].array as string;
};
const SINGLE_ARRAY = npyBase64(join(DIR, "single.json"), "output");
const ndarray = (array = SINGLE_ARRAY) => ({ array, polygraphy_class: "ndarray" });
const runResults = (outputs: unknown, runner = ONNXRT) => ({
  lst: [[runner, [{ outputs, runtime: 0.1, runner_name: runner, polygraphy_class: "IterationResult" }]]],
  polygraphy_class: "RunResults",
});

describe("Polygraphy --save-results files", () => {
  it("names every array runner/iteration/output when several hold an output name", () => {
    const archive = openPolygraphy(RESULTS);
    expect(archive.names).toEqual(
      [ONNXRT, TRT].flatMap((runner) =>
        [0, 1].flatMap((iteration) => [`${runner}/${iteration}/${OUTPUT}`, `${runner}/${iteration}/count`]),
      ),
    );
  });

  it("reads each runner's and iteration's output as numpy saved it (float32 and float16)", () => {
    expectSameValues(`${RESULTS}:${ONNXRT}/0/${OUTPUT}`, "y");
    expectSameValues(`${RESULTS}:${ONNXRT}/1/${OUTPUT}`, "y2");
    expectSameValues(`${RESULTS}:${TRT}/0/${OUTPUT}`, "y_f16");
    expectSameValues(`${RESULTS}:${TRT}/1/${OUTPUT}`, "y2_f16");
    expect(readTensor(`${RESULTS}:${TRT}/1/${OUTPUT}`).dtype).toBe("float16");
    expect(readTensor(`${RESULTS}:${ONNXRT}/1/${OUTPUT}`).dtype).toBe("float32");
  });

  it("reads an integer output with readInteger and refuses it as a float tensor", () => {
    const archive = openPolygraphy(RESULTS);
    expect(archive.readInteger(`${TRT}/1/count`)).toBe(7);
    expect(() => archive.read(`${TRT}/1/count`)).toThrow(
      /results\.json:trt-runner-N0-07\/15\/24-13:02:22\/1\/count: integer dtype '<i8' is not supported/,
    );
  });

  it("an output held once is named alone; its full name reads the same array", () => {
    const path = join(DIR, "single.json");
    expect(openPolygraphy(path).names).toEqual(["output", "input"]);
    expectSameValues(`${path}:output`, "y");
    expectSameValues(`${path}:${ONNXRT}/0/output`, "y");
    expectSameValues(`${path}:input`, "x");
  });

  it("a --save-inputs file names inputs iteration/name", () => {
    const path = join(DIR, "inputs.json");
    expect(openPolygraphy(path).names).toEqual(["0/x", "1/x"]);
    expectSameValues(`${path}:0/x`, "x");
    expectSameValues(`${path}:1/x`, "x2");
  });

  it("reads the legacy type marker and LazyNumpyArray of older Polygraphy versions", () => {
    const path = writeJson("legacy.json", {
      lst: [
        [
          ONNXRT,
          [
            {
              outputs: {
                y: {
                  values: { __polygraphy_encoded_ndarray: "polygraphy_serialized_json_type", array: SINGLE_ARRAY },
                  polygraphy_class: "LazyNumpyArray",
                },
              },
              runtime: 0,
              runner_name: ONNXRT,
              __polygraphy_encoded_IterationResult: "polygraphy_serialized_json_type",
            },
          ],
        ],
      ],
      __polygraphy_encoded_RunResults: "polygraphy_serialized_json_type",
    });
    expectSameValues(`${path}:y`, "y");
  });

  it("asks for a name when there are several arrays, and lists them for a wrong one", () => {
    expect(() => readTensor(RESULTS)).toThrow(
      /results\.json: holds 8 arrays \(onnxrt-runner-N0-07\/15\/24-13:02:22\/0\/\/bn\/BatchNormalization_output_0, /,
    );
    expect(() => readTensor(`${RESULTS}:${OUTPUT}`)).toThrow(
      /results\.json:\/bn\/BatchNormalization_output_0: no array '\/bn\/BatchNormalization_output_0' in the file/,
    );
  });
});

describe("Polygraphy files bn-check refuses by name", () => {
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{nope", /is not valid JSON/],
    ["a number", "3", /is neither Polygraphy RunResults \(--save-results\) nor a list of feed dicts \(--save-inputs\)/],
    [
      "an object without a class",
      { lst: [] },
      /is a JSON object without a polygraphy_class: not a Polygraphy results file/,
    ],
    [
      "another Polygraphy class",
      { polygraphy_class: "AccuracyResult" },
      /holds a Polygraphy AccuracyResult, not RunResults/,
    ],
    ["lst that is no list", { lst: {}, polygraphy_class: "RunResults" }, /has RunResults whose 'lst' is not a list/],
    [
      "an entry that is no pair",
      { lst: [["r"]], polygraphy_class: "RunResults" },
      /has RunResults entry 0 that is not \[runner name, \[iteration results\]\]/,
    ],
    [
      "an iteration that is no IterationResult",
      { lst: [["r", [{ outputs: {} }]]], polygraphy_class: "RunResults" },
      /has runner 'r', iteration 0 that is not an IterationResult/,
    ],
    ["outputs that are no object", runResults([1]), /iteration 0 whose 'outputs' is not an object of name: array/],
    [
      "an array that is no string",
      runResults({ y: { array: 5, polygraphy_class: "ndarray" } }),
      /output 'y' whose 'array' is not a string/,
    ],
    [
      "an array that is not base64",
      runResults({ y: ndarray("k05VTVBZ!!!=") }),
      /:y: has an 'array' that is not base64/,
    ],
    [
      "a wide character in base64",
      runResults({ y: ndarray("k05VTVBZ\u0141AAA") }),
      /:y: has an 'array' that is not base64/,
    ],
    ["base64 of the wrong length", runResults({ y: ndarray("k05VTVBZA") }), /:y: has an 'array' that is not base64/],
    [
      "a torch.Tensor",
      runResults({ y: { tensor: "UEsDBA==", polygraphy_class: "Tensor" } }),
      /output 'y' saved as a torch\.Tensor: bn-check reads NumPy arrays/,
    ],
    [
      "an unknown class",
      runResults({ y: { array: "", shape: [1], polygraphy_class: "FormattedArray" } }),
      /output 'y' of Polygraphy class FormattedArray, which bn-check does not read/,
    ],
    ["a plain value", runResults({ y: [1, 2, 3] }), /output 'y' that is not an encoded array/],
    ["a feed dict that is no object", [3], /has iteration 0 that is not a feed dict/],
    [
      "names that collide",
      [{ "0/x": ndarray(), x: ndarray() }, { x: ndarray() }],
      /holds two arrays that would both be named '0\/x'/,
    ],
  ];
  cases.forEach(([what, content, message], index) => {
    it(`${what}: a named error`, () => {
      const path = writeJson(`refused-${index}.json`, content);
      const attempt = () => readPolygraphy(path, "y");
      expect(attempt).toThrow(InputFileError);
      expect(attempt).toThrow(`${path}`);
      expect(attempt).toThrow(message);
    });
  });

  it("damaged .npy bytes inside valid base64 are refused when read, by the .npy reader", () => {
    const path = writeJson("npy.json", runResults({ y: ndarray(Buffer.from("not an npy file").toString("base64")) }));
    expect(() => readPolygraphy(path, "y")).toThrow(/npy\.json:y: /);
    expect(() => readPolygraphy(path, "y")).toThrow(InputFileError);
  });

  it("a file past the JSON size limit is refused before it is read", () => {
    const path = join(work, "huge.json");
    const fd = openSync(path, "w");
    ftruncateSync(fd, 2 ** 29); // sparse: no disk and no reading
    closeSync(fd);
    expect(() => openPolygraphy(path)).toThrow(
      /huge\.json: is 536870912 bytes: more than the 536870888 a JSON file can hold as one string in Node/,
    );
  });

  it("text that is not UTF-8 is refused", () => {
    const path = join(work, "latin1.json");
    writeFileSync(path, Buffer.from([0x7b, 0xff, 0x7d]));
    expect(() => openPolygraphy(path)).toThrow(/latin1\.json: is not UTF-8 text/);
  });
});

describe("fuzzing the Polygraphy reader", () => {
  it("ends every mutated or truncated file as an array or a named error", () => {
    const original = readFileSync(join(DIR, "single.json"));
    let refused = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat({ max: original.length }),
        (edits, cut) => {
          const bytes = Buffer.from(original.subarray(0, edits.length === 0 ? cut : original.length));
          for (const [at, value] of edits) bytes[at] = value;
          const path = join(work, "fuzz.json");
          writeFileSync(path, bytes);
          try {
            const tensor = readPolygraphy(path, "output");
            expect(tensor.data.length).toBe(72);
          } catch (error) {
            expect(error).toBeInstanceOf(InputFileError);
            refused++;
          }
        },
      ),
      { numRuns: 400, seed: 23 },
    );
    expect(refused).toBeGreaterThan(100);
  });
});

describe("the CLI on Polygraphy arguments", () => {
  it("a BatchNorm output Polygraphy saved conforms with the layer's torch.save parameters", () => {
    const params = (key: string) => `${join(DIR, "bn-params.pt")}:${key}`;
    const single = join(DIR, "single.json");
    const run = runCli(layerCompareArgs(`${single}:input`, `${single}:${ONNXRT}/0/output`, "eval", params));
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout).tensors[0].verdict).toBe("conforms");
  });

  it("a refused file is one line on stderr and exit 2", () => {
    const path = writeJson("cli.json", runResults({ y: { tensor: "", polygraphy_class: "Tensor" } }));
    const run = runCli(["compare", `${path}:y`, `${path}:y`, "--mode", "eval"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `bn-check: ${path}: has runner '${ONNXRT}', iteration 0, output 'y' saved as a torch.Tensor: ` +
        `bn-check reads NumPy arrays from Polygraphy files (run with NumPy outputs)\n`,
    );
  });
});

describe("nesting is bounded before parsing", () => {
  it("a ten-million-deep array is refused from a scan of its bytes, exit 2, one line", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-deep-"));
    const deep = join(dir, "deep.json");
    writeFileSync(deep, `${"[".repeat(10_000_000)}${"]".repeat(10_000_000)}`);
    const run = runCli(["diff", `${deep}:x`, `${deep}:x`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /deep\.json: nests arrays or objects more than 64 deep \(at byte 64\): not a Polygraphy JSON file\n$/,
    );
    // Brackets inside strings are text, not nesting.
    const quoted = join(dir, "quoted.json");
    writeFileSync(quoted, JSON.stringify({ note: "[".repeat(1000), '\\"[': 1 }));
    expect(() => openPolygraphy(quoted)).not.toThrow(/nests/);
  });
});

describe("what JSON.parse may build is bounded before parsing", () => {
  const dir = mkdtempSync(join(tmpdir(), "bn-check-json-costs-"));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("two million and one values (a list of zeros) are refused from the scan, through the CLI: exit 2, one line", () => {
    const path = write("values.json", `[${"0,".repeat(2_000_000)}0]`);
    const run = runCli(["diff", `${path}:x`, `${path}:x`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(
      `bn-check: ${path}: holds more than 2,000,000 JSON values (at ` +
        `byte 4000000): not a Polygraphy JSON file bn-check reads\n`,
    );
  });

  it("an object of a million empty objects under a million keys is refused the same way", () => {
    const parts: string[] = [];
    for (let i = 0; i < 1_000_001; i++) parts.push(`"${i}":{}`);
    expect(() => openPolygraphy(write("keys.json", `{${parts.join(",")}}`))).toThrow(
      /keys\.json: holds more than 2,000,000 JSON values \(at byte \d+\)/,
    );
  });

  it("a key of 5,000 characters is refused, a string value of 5 MB is not (base64 arrays are long)", () => {
    expect(() => openPolygraphy(write("key.json", `{"${"k".repeat(5000)}" : 1}`))).toThrow(
      /key\.json: has a key of 5,000 bytes \(at byte 1\): keys are at most 4,096 here$/,
    );
    expect(() => openPolygraphy(write("value.json", JSON.stringify({ note: "v".repeat(5_000_000) })))).toThrow(
      /is a JSON object without a polygraphy_class/,
    );
    // Escaped quotes end no string: a backslash run before a quote is counted.
    expect(() => openPolygraphy(write("escaped.json", `{"a\\\\\\"${"k".repeat(5000)}" : 1}`))).toThrow(
      /has a key of 5,00\d bytes/,
    );
  });

  it("a runner name of 10,000 characters is refused", () => {
    const path = write(
      "runner.json",
      JSON.stringify({ polygraphy_class: "RunResults", lst: [["r".repeat(10_000), []]] }),
    );
    expect(() => openPolygraphy(path)).toThrow(
      /runner\.json: has RunResults entry 0 whose runner name is 10,000 characters: names in Polygraphy files are at most 4096$/,
    );
  });
});
