// Checkpoints as training code saves them (fixtures/generate_checkpoints.py, real torch.save): every
// one is read without running its code, its tensors named as state_dict() names them under the key
// path that holds them, whatever the file is called; `model` checks every BatchNorm layer of each.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { archiveFormatOf, openTensorArchive } from "../../src/io/archive-formats.js";
import { FIXTURES, runCli } from "../helpers.js";

const DIR = join(FIXTURES, "checkpoints");
const STATE = [
  "conv1.weight",
  "bn1.weight",
  "bn1.bias",
  "bn1.running_mean",
  "bn1.running_var",
  "bn1.num_batches_tracked",
  "conv2.weight",
  "bn2.weight",
  "bn2.bias",
  "bn2.running_mean",
  "bn2.running_var",
  "bn2.num_batches_tracked",
  "fc.weight",
  "fc.bias",
];

const LAYOUTS: [string, string, string][] = [
  // file, key path of the model's tensors, what saved it
  ["args.pth", "state_dict.", "timm-style dict with argparse.Namespace(data=PosixPath) and optimizer state"],
  ["numpy.pt", "model.", "dict with np.random.get_state() and np.float64"],
  ["whole.pt", "", "torch.save(model): the nn.Module itself"],
  ["dataparallel.pt", "module.", "torch.save(nn.DataParallel(model))"],
  ["ultralytics.pt", "model.", "ultralytics: the whole model in float16 under 'model'"],
  ["epoch=3.ckpt", "state_dict.model.", "PyTorch Lightning .ckpt"],
  ["pytorch_model.bin", "", "Hugging Face pytorch_model.bin"],
  ["checkpoint.pth.tar", "state_dict.module.", "the PyTorch ImageNet example's checkpoint.pth.tar"],
];

function open(file: string) {
  const path = join(DIR, file);
  return openTensorArchive(path, archiveFormatOf(path));
}

describe("checkpoints as training code saves them", () => {
  const reference = open("pytorch_model.bin");
  for (const [file, prefix, what] of LAYOUTS) {
    it(`${file} (${what}): every model tensor, named by key path + state_dict name, equal to the state_dict's`, () => {
      const archive = open(file);
      for (const name of STATE) {
        expect(archive.names).toContain(`${prefix}${name}`);
        if (name.endsWith("num_batches_tracked")) {
          expect(archive.readInteger(`${prefix}${name}`)).toBe(7);
          continue;
        }
        const tensor = archive.read(`${prefix}${name}`);
        const expected = reference.read(name);
        expect(tensor.shape).toEqual(expected.shape);
        if (file === "ultralytics.pt") {
          expect(tensor.dtype).toBe("float16");
          for (let i = 0; i < expected.data.length; i++)
            expect(Math.abs(tensor.data[i] - expected.data[i])).toBeLessThanOrEqual(
              Math.abs(expected.data[i]) * 2 ** -11 + 2 ** -25,
            );
        } else {
          expect(Array.from(tensor.data)).toEqual(Array.from(expected.data));
        }
      }
    });
  }

  it("numpy values: a float64 array is a tensor by its path; scalars and the RNG state are not tensors", () => {
    const archive = open("numpy.pt");
    expect(Array.from(archive.read("history").data)).toEqual([0.5, 0.75, 0.875]);
    expect(archive.names.some((name) => name.startsWith("best_acc") || name.startsWith("np_rng"))).toBe(false);
  });

  for (const [file] of LAYOUTS.filter(([file]) => file !== "ultralytics.pt")) {
    it(`model --params ${file} checks both BatchNorm layers against hooks on the bare model`, () => {
      const run = runCli([
        "model",
        "--params",
        join(DIR, file),
        "--activations",
        join(DIR, "acts.npz"),
        "--format",
        "json",
      ]);
      expect(run.status, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout);
      expect(
        report.cases.map((c: { name: string; status: string }) => [c.name.replace(/.*?(bn\d)$/, "$1"), c.status]),
      ).toEqual([
        ["bn1", "pass"],
        ["bn2", "pass"],
      ]);
    });
  }

  it("a file:name spec is split where the file exists, whatever the extension", () => {
    const run = runCli([
      "diff",
      `${join(DIR, "epoch=3.ckpt")}:state_dict.model.bn1.weight`,
      `${join(DIR, "checkpoint.pth.tar")}:state_dict.module.bn1.weight`,
    ]);
    expect(run.status, run.stderr).toBe(0);
    const missing = runCli([
      "diff",
      `${join(DIR, "epoch=3.ckpt")}:bn9.weight`,
      `${join(DIR, "epoch=3.ckpt")}:bn9.weight`,
    ]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/epoch=3\.ckpt:bn9\.weight: no tensor 'bn9\.weight' in the file/);
    expect(missing.stderr).not.toMatch(/no such file/);
  });
});

describe("model --debug lists what it read past", () => {
  it("other tensors (conv weights, optimizer state) and entries that hold no tensor (epoch, args)", () => {
    const run = runCli(["--debug", "model", "--params", join(DIR, "args.pth"), "--activations", join(DIR, "acts.npz")]);
    expect(run.status).toBe(0);
    const lines = run.stderr.trim().split("\n");
    expect(lines[0]).toMatch(
      /args\.pth: 2 BatchNorm layer\(s\); 12 other tensor\(s\) not checked: state_dict\.conv1\.weight, .*optimizer\.state\.0\.momentum_buffer/,
    );
    expect(lines[1]).toMatch(
      /args\.pth: \d+ entries that hold no tensor: epoch \(a number\), arch \(a string\), args\.lr \(a float\)/,
    );
  });
});
