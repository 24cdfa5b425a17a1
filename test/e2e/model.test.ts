// `bn-check model` through the built binary on a real torchvision dump (fixtures/model, written by
// fixtures/generate_model.py): MobileNetV3-Small, whose BatchNorm layers use eps 1e-3 and momentum
// 0.01, in eval and train mode, with a fault dump that shifts one layer's output.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { zipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { readTensor } from "../../src/io/read-tensor.js";
import { tensorFromArray } from "../../src/core/tensor.js";
import { encodeNpy } from "../../src/io/npy/write-npy.js";
import { FIXTURES, readJson, runCli } from "../helpers.js";

const MODEL = join(FIXTURES, "model");
const PARAMS = join(MODEL, "params.safetensors");
const AFTER = join(MODEL, "train", "params_after.safetensors");
const CONVENTION = ["--eps", "0.001", "--momentum", "0.01"];
const evalCase = readJson<{ bn_layers: string[]; fault: { layer: string } }>(join(MODEL, "eval", "case.json"));
const dir = mkdtempSync(join(tmpdir(), "bn-check-model-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ModelJson {
  command: string;
  exitCode: number;
  summary: { total: number; passed: number; failed: number; errors: number };
  cases: { name: string; status: string; error: string | null; tensors: { name: string; passed: boolean }[] }[];
  model: {
    naming: string;
    layersFound: number;
    layersSelected: number;
    findings: { message: string; layers: string[] }[];
  };
}

function model(args: string[]): ModelJson & { status: number | null; stderr: string } {
  const run = runCli(["model", ...args, "--format", "json"]);
  return { ...(JSON.parse(run.stdout) as ModelJson), status: run.status, stderr: run.stderr };
}

describe("bn-check model on a torchvision MobileNetV3-Small dump", () => {
  it.each([
    ["params.safetensors", "acts.safetensors"],
    ["params.safetensors", "acts.npz"],
    ["params.pt", "acts.npz"],
    ["params.pt", "acts.safetensors"],
  ])("eval, %s with %s: every BatchNorm layer is a case of its own and conforms", (params, acts) => {
    const report = model(["--params", join(MODEL, params), "--activations", join(MODEL, "eval", acts), ...CONVENTION]);
    expect(report.status).toBe(0);
    expect(report.command).toBe("model");
    expect(report.cases.map((c) => c.name)).toEqual(evalCase.bn_layers);
    expect(report.summary).toMatchObject({ total: 34, passed: 34, failed: 0, errors: 0 });
    expect(report.model).toMatchObject({ naming: "pytorch", layersFound: 34, layersSelected: 34, findings: [] });
  });

  it.each(["params.safetensors", "params.pt"])(
    "train from %s with --ref-params: the output and the running statistics after the call conform",
    (params) => {
      const report = model([
        "--params",
        join(MODEL, params),
        "--activations",
        join(MODEL, "train", "acts.safetensors"),
        "--mode",
        "train",
        "--ref-params",
        AFTER,
        ...CONVENTION,
      ]);
      expect(report.status).toBe(0);
      for (const c of report.cases)
        expect(c.tensors.map((t) => [t.name, t.passed])).toEqual([
          ["output", true],
          ["running_mean", true],
          ["running_var", true],
        ]);
    },
  );

  it.each(["eval", "train"])("%s: the fault dump fails exactly the layer its case.json names", (mode) => {
    const fault = readJson<{ fault: { layer: string } }>(join(MODEL, mode, "case.json")).fault.layer;
    const extra = mode === "train" ? ["--ref-params", AFTER] : [];
    const report = model([
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, mode, "acts_fault.safetensors"),
      "--mode",
      mode,
      ...extra,
      ...CONVENTION,
    ]);
    expect(report.status).toBe(1);
    expect(
      report.cases
        .filter((c) => c.status !== "pass")
        .map((c) => [c.name, c.tensors.filter((t) => !t.passed).map((t) => t.name)]),
    ).toEqual([[fault, ["output"]]]);
  });

  it("names the one cause when most layers fail the same way (torchvision's eps 1e-3, momentum 0.01)", () => {
    const wrongEps = model(["--params", PARAMS, "--activations", join(MODEL, "eval", "acts.safetensors")]);
    expect(wrongEps.status).toBe(1);
    const failing = wrongEps.cases.filter((c) => c.status === "fail").map((c) => c.name);
    expect(failing.length).toBeGreaterThan(20);
    expect(wrongEps.model.findings).toEqual([
      {
        message:
          `all ${failing.length} failing layers conform with ` +
          `--eps 0.001: the model was likely built with eps 0.001`,
        layers: failing,
      },
    ]);

    const wrongMomentum = model([
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "train", "acts.safetensors"),
      "--mode",
      "train",
      "--ref-params",
      AFTER,
      "--eps",
      "0.001",
    ]);
    expect(wrongMomentum.status).toBe(1);
    expect(wrongMomentum.model.findings.map((f) => [f.message, f.layers.length])).toEqual([
      ["all 34 failing layers conform with --momentum 0.01: the model was likely built with momentum 0.01", 34],
    ]);
    // A single faulty layer is a layer finding, not a model-level one.
    expect(
      model(["--params", PARAMS, "--activations", join(MODEL, "eval", "acts_fault.safetensors"), ...CONVENTION]).model
        .findings,
    ).toEqual([]);
  });

  it("--layer-options gives each layer its eps and momentum (dumped by the generator from the modules)", () => {
    const options = join(MODEL, "layer_options.json");
    const report = model([
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "train", "acts.safetensors"),
      "--mode",
      "train",
      "--ref-params",
      AFTER,
      "--layer-options",
      options,
    ]);
    expect(report.status).toBe(0);
    expect(report.summary.passed).toBe(34);
    // The file's values win over the command's for the layers it names.
    expect(
      model([
        "--params",
        PARAMS,
        "--activations",
        join(MODEL, "eval", "acts.safetensors"),
        "--layer-options",
        options,
        "--eps",
        "0.1",
      ]).status,
    ).toBe(0);
    const custom = join(dir, "options.json");
    // A number applies to every layer; one layer given another eps fails alone.
    writeFileSync(custom, JSON.stringify({ eps: 0.001, layer_eps: { "features.0.1": 0.1 } }));
    const one = model([
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "eval", "acts.safetensors"),
      "--layer-options",
      custom,
    ]);
    expect(one.cases.filter((c) => c.status !== "pass").map((c) => c.name)).toEqual(["features.0.1"]);
    for (const [content, message] of [
      [
        { eps: { "features.9.nope": 0.001 } },
        /options\.json: 'eps' names 'features\.9\.nope', which is not one of the BatchNorm layers found \(features\.0\.1, /,
      ],
      [
        { momentum: { "features.0.1": 2 } },
        /options\.json: 'momentum' gives layer 'features\.0\.1' 2: momentum must be a number in \[0, 1\] or null\n$/,
      ],
      [[1, 2], /options\.json: is not a JSON object of per-layer options/],
    ] as const) {
      writeFileSync(custom, JSON.stringify(content));
      const run = runCli([
        "model",
        "--params",
        PARAMS,
        "--activations",
        join(MODEL, "eval", "acts.safetensors"),
        "--layer-options",
        custom,
      ]);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });

  it("the text report states the finding once and the layers it explains by name", () => {
    const run = runCli(["model", "--params", PARAMS, "--activations", join(MODEL, "eval", "acts.safetensors")]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(
      /^bn-check model: .*params\.safetensors \+ .*acts\.safetensors \(34 of 34 BatchNorm layers, pytorch naming\)/,
    );
    expect(run.stdout).toMatch(/finding: all \d+ failing layers conform with --eps 0\.001/);
    // One failing layer is reported in full; the others it explains are not repeated.
    expect(run.stdout.match(/^FAIL {2}/gm)?.length).toBe(1);
  });

  it("--layers selects layers by glob; a layer without activations is an error case, listed, exit 2", () => {
    const some = model([
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "eval", "acts.safetensors"),
      "--layers",
      "features.1*",
      ...CONVENTION,
    ]);
    expect(some.status).toBe(0);
    expect(some.cases.map((c) => c.name)).toEqual(evalCase.bn_layers.filter((name) => name.startsWith("features.1")));
    expect(some.model.layersSelected).toBe(some.cases.length);

    const missing = model([
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "eval", "acts.safetensors"),
      "--output-key",
      "{layer}.out",
      "--layers",
      "features.0.1",
      ...CONVENTION,
    ]);
    expect(missing.status).toBe(2);
    expect(missing.cases).toHaveLength(1);
    expect(missing.cases[0].status).toBe("error");
    expect(missing.cases[0].error).toMatch(/acts\.safetensors: no 'features\.0\.1\.out' for layer features\.0\.1/);
  });

  it("writes JUnit with one test suite per layer and Markdown with the finding", () => {
    const xml = join(dir, "model.xml");
    const run = runCli([
      "model",
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "eval", "acts_fault.safetensors"),
      ...CONVENTION,
      "--report",
      xml,
    ]);
    expect(run.status).toBe(1);
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(xml, "utf8"));
    const suites = parsed.testsuites.testsuite as { "@_name": string; "@_failures": string }[];
    expect(suites).toHaveLength(34);
    expect(suites.filter((s) => s["@_failures"] !== "0").map((s) => s["@_name"])).toEqual([evalCase.fault.layer]);
    const markdown = runCli([
      "model",
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "eval", "acts.safetensors"),
      "--format",
      "markdown",
    ]);
    expect(markdown.stdout).toMatch(/^### bn-check model: ❌ \d+ \/ 34 passed/);
    expect(markdown.stdout).toContain("**Finding:** all");
  });

  it.each([
    [
      ["--input-key", "input"],
      "bn-check: --input-key 'input' has no {layer} in it: every layer would read the same tensor\n",
    ],
    [
      ["--mode", "eval", "--ref-params", AFTER],
      "bn-check: --ref-params checks the running statistics a train-mode call updates: give --mode train\n",
    ],
    [
      ["--layers", "nothing*"],
      /^bn-check: --layers 'nothing\*' matches none of the 34 BatchNorm layers \(features\.0\.1, /,
    ],
  ])("usage errors are one line and exit 2: %j", (args, message) => {
    const run = runCli([
      "model",
      "--params",
      PARAMS,
      "--activations",
      join(MODEL, "eval", "acts.safetensors"),
      ...args,
    ]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    if (typeof message === "string") expect(run.stderr).toBe(message);
    else expect(run.stderr).toMatch(message);
  });

  it("the worker pool gives the report one thread gives (a layer of several units, every thread used)", () => {
    // The fixture's layers are one unit each: tile the first layer's eval dump along the batch (an
    // eval-mode output is per element, so the tiled output is still the right one) to 16x8x16x16,
    // two units, and shift one channel so that the failure's details are compared too.
    const tiled = (spec: string, shift: number) => {
      const tensor = readTensor(spec);
      const data = new Float32Array(tensor.data.length * 8);
      for (let copy = 0; copy < 8; copy++) data.set(tensor.data, copy * tensor.data.length);
      data[5 * 256 + 17] += shift;
      return encodeNpy(tensorFromArray(data, [tensor.shape[0] * 8, ...tensor.shape.slice(1)]));
    };
    const acts = join(dir, "tiled.npz");
    const source = `${join(MODEL, "eval", "acts.safetensors")}:features.0.1`;
    writeFileSync(
      acts,
      zipSync({
        "features.0.1.input.npy": tiled(`${source}.input`, 0),
        "features.0.1.output.npy": tiled(`${source}.output`, 0.01),
      }),
    );
    const args = ["--params", PARAMS, "--activations", acts, "--layers", "features.0.1", ...CONVENTION];
    const single = model([...args, "--threads", "1"]);
    const pooled = model([...args, "--threads", "2", "--parallel-threshold", "0"]);
    expect(pooled.status).toBe(1);
    const details = (report: ModelJson) => report.cases.map((c) => ({ ...c, timings: undefined }));
    expect(details(pooled)).toEqual(details(single));
    // Which thread claims which unit is timing (a small pass may end before the worker joins); that
    // the pass ran on a pool of two is not.
    const pool = (report: ModelJson) =>
      (report as unknown as { cases: { timings: { unitsByThread: { compare: number[] } } }[] }).cases[0].timings
        .unitsByThread.compare;
    expect(pool(single)).toEqual([2]);
    expect(pool(pooled)).toHaveLength(2);
    expect(pool(pooled)[0] + pool(pooled)[1]).toBe(2);
  });

  it.each(["keras3-model.keras", "keras2-model.h5"])(
    "Keras weights (%s): layers found by Keras naming, checked under the keras preset",
    (file) => {
      // fixtures/generate_keras.py writes one BatchNormalization layer 'bn' and its input and output
      // by Keras' inference formula (eps 1e-3, NHWC); 'bn_noscale' has no dump here.
      const acts = join(dir, "keras-acts.npz");
      const keras = join(FIXTURES, "keras");
      writeFileSync(
        acts,
        zipSync({
          "bn.input.npy": encodeNpy(readTensor(join(keras, "bn-x.npy"))),
          "bn.output.npy": encodeNpy(readTensor(join(keras, "bn-y.npy"))),
        }),
      );
      const report = model(["--params", join(keras, file), "--activations", acts]);
      expect(report.model).toMatchObject({ naming: "keras", layersFound: 2 });
      expect(report.cases.map((c) => [c.name, c.status])).toEqual([
        ["bn", "pass"],
        ["bn_noscale", "error"],
      ]);
      expect(report.status).toBe(2);
      expect(
        (report as unknown as { cases: { convention: { framework: string; epsilon: number } }[] }).cases[0].convention,
      ).toMatchObject({ framework: "keras", epsilon: 0.001 });
      expect(
        model(["--params", join(keras, file), "--activations", acts, "--layers", "bn", "--eps", "0.01"]).status,
      ).toBe(1);
    },
  );

  it("suite runs a model dump folder (the corpus' model sets) as one case per layer and dump, the fault layer expected to fail", () => {
    const run = runCli(["suite", MODEL, "--format", "json"]);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as ModelJson & { summary: { expectedMismatches: number } };
    // eval: acts.npz, acts.safetensors, acts_fault.safetensors; train: the same three (with params_after).
    expect(report.summary).toMatchObject({ total: 6 * 34, passed: 6 * 34, expectedMismatches: 2 });
    expect(
      report.cases.filter((c) => (c as unknown as { expected: string }).expected === "mismatch").map((c) => c.name),
    ).toEqual([
      `eval/acts_fault.safetensors/${evalCase.fault.layer}`,
      `train/acts_fault.safetensors/${evalCase.fault.layer}`,
    ]);
    const trainCase = report.cases.find((c) => c.name === `train/acts.safetensors/${evalCase.bn_layers[0]}`)!;
    expect(trainCase.tensors.map((t) => t.name)).toEqual(["output", "running_mean", "running_var"]);
  });

  it("parameters saved from a wrapped model (module.) or a checkpoint (model.) pair with hooks on the bare model", () => {
    const layers = evalCase.bn_layers.slice(0, 3);
    for (const prefix of ["module.", "model."]) {
      const wrapped = join(dir, `${prefix}npz`);
      const members: Record<string, Uint8Array> = {};
      for (const layer of layers) {
        for (const key of ["weight", "bias", "running_mean", "running_var"])
          members[`${prefix}${layer}.${key}.npy`] = encodeNpy(readTensor(`${PARAMS}:${layer}.${key}`));
      }
      writeFileSync(wrapped, zipSync(members));
      const report = model([
        "--params",
        wrapped,
        "--activations",
        join(MODEL, "eval", "acts.safetensors"),
        ...CONVENTION,
      ]);
      expect(report.status).toBe(0);
      expect(report.cases.map((c) => [c.name, c.status])).toEqual(layers.map((layer) => [`${prefix}${layer}`, "pass"]));
    }
  });

  it("--layer-options names layers as the parameters do (state_dict.module.x) or as hooks do (x)", () => {
    const layers = evalCase.bn_layers.slice(0, 2);
    const prefix = "state_dict.module.";
    const wrapped = join(dir, "dataparallel-checkpoint.npz");
    const members: Record<string, Uint8Array> = {};
    for (const layer of layers) {
      for (const key of ["weight", "bias", "running_mean", "running_var"])
        members[`${prefix}${layer}.${key}.npy`] = encodeNpy(readTensor(`${PARAMS}:${layer}.${key}`));
    }
    writeFileSync(wrapped, zipSync(members));
    const acts = join(MODEL, "eval", "acts.safetensors");
    // A wrong eps for the first layer only, named both ways: that layer fails, the other passes.
    for (const name of [layers[0], `${prefix}${layers[0]}`, `module.${layers[0]}`]) {
      const options = join(dir, "bare-names.json");
      writeFileSync(options, JSON.stringify({ eps: { [name]: 0.5 } }));
      const report = model(["--params", wrapped, "--activations", acts, ...CONVENTION, "--layer-options", options]);
      expect(report.cases.map((c) => [c.name, c.status])).toEqual([
        [`${prefix}${layers[0]}`, "fail"],
        [`${prefix}${layers[1]}`, "pass"],
      ]);
    }
    const typo = join(dir, "typo.json");
    writeFileSync(typo, JSON.stringify({ eps: { "no.such.layer": 0.5 } }));
    const refused = runCli(["model", "--params", wrapped, "--activations", acts, "--layer-options", typo]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(
      /typo\.json: 'eps' names 'no\.such\.layer', which is not one of the BatchNorm layers found/,
    );
  });

  it("files that hold no model are refused by name, exit 2", () => {
    const noLayers = runCli([
      "model",
      "--params",
      join(FIXTURES, "safetensors", "mixed.safetensors"),
      "--activations",
      join(MODEL, "eval", "acts.safetensors"),
    ]);
    expect(noLayers.status).toBe(2);
    expect(noLayers.stderr).toMatch(
      /^bn-check: .*mixed\.safetensors: holds no BatchNorm layer \(no '<layer>\.running_mean'/,
    );
    const notArchive = runCli([
      "model",
      "--params",
      join(FIXTURES, "classic", "input.npy"),
      "--activations",
      join(MODEL, "eval", "acts.safetensors"),
    ]);
    expect(notArchive.status).toBe(2);
    expect(notArchive.stderr).toMatch(
      /^bn-check: .*input\.npy: --params takes a file of named tensors \(\.npz, \.safetensors/,
    );
  });
});
