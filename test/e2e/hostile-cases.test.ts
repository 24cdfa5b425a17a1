// Hostile case definitions: a bad case.json (null, a prototype name as framework, a mode that does
// not exist, a FIFO, megabytes of JSON) is an error case and the suite goes on; an ONNX tensor
// claiming 2^40 elements is refused before anything is allocated; a manifest on a device is refused.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tensorFromProto } from "../../src/io/tensor-proto.js";
import { FIXTURES, runCli } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "bn-check-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const good = join(FIXTURES, "corpus", "cpu", "pt-cpu-bn2d-f32-classic-train");

function caseFolder(name: string, caseJson: string | null): string {
  const folder = join(dir, "suite", name);
  mkdirSync(folder, { recursive: true });
  cpSync(good, folder, { recursive: true });
  if (caseJson === null) {
    rmSync(join(folder, "case.json"));
    execFileSync("mkfifo", [join(folder, "case.json")]);
  } else writeFileSync(join(folder, "case.json"), caseJson);
  return folder;
}

describe("a suite with bad case folders", () => {
  caseFolder("a-null", "null");
  caseFolder("b-proto", JSON.stringify({ framework: "__proto__", mode: "train", eps: 1e-5 }));
  caseFolder("c-constructor", JSON.stringify({ framework: "constructor" }));
  caseFolder("d-bogus-mode", JSON.stringify({ framework: "pytorch", mode: "bogus" }));
  caseFolder("e-eps-string", JSON.stringify({ framework: "pytorch", eps: "1e-5" }));
  caseFolder("f-fifo", null);
  caseFolder("g-huge", JSON.stringify({ framework: "pytorch", padding: "x".repeat(2 << 20) }));
  caseFolder(
    "h-good",
    JSON.stringify({
      framework: "pytorch",
      convention: "pytorch",
      mode: "train",
      eps: 1e-5,
      momentum: 0.1,
      channel_axis: 1,
      expected: "match",
    }),
  );
  const run = runCli(["suite", join(dir, "suite"), "--format", "json"]);
  const report = JSON.parse(run.stdout) as { cases: { name: string; status: string; error: string | null }[] };
  const byName = Object.fromEntries(report.cases.map((c) => [c.name, c]));

  it("runs every case: the bad ones are errors (exit 2), the good one passes", () => {
    expect(run.status).toBe(2);
    expect(report.cases.map((c) => c.status)).toEqual([
      "error",
      "error",
      "error",
      "error",
      "error",
      "error",
      "error",
      "pass",
    ]);
  });

  it("names the file and the problem of each", () => {
    expect(byName["a-null"].error).toMatch(/a-null\/case\.json: must hold a JSON object$/);
    expect(byName["b-proto"].error).toMatch(
      /b-proto\/case\.json: names framework '__proto__' \/ convention 'undefined', which bn-check has no preset for$/,
    );
    expect(byName["c-constructor"].error).toMatch(/c-constructor\/case\.json: names framework 'constructor'/);
    expect(byName["d-bogus-mode"].error).toMatch(
      /d-bogus-mode\/case\.json: field 'mode' has an invalid value "bogus"$/,
    );
    expect(byName["e-eps-string"].error).toMatch(/field 'eps' has an invalid value "1e-5"$/);
    expect(byName["f-fifo"].error).toMatch(/f-fifo\/case\.json: is not a regular file/);
    expect(byName["g-huge"].error).toMatch(
      /g-huge\/case\.json: is [\d,]+ bytes: more than the 1,048,576 a JSON file of bn-check may have$/,
    );
  });
});

describe("manifests and ONNX tensors", () => {
  it("a manifest that is a device is refused at once", () => {
    const run = runCli(["suite", "/dev/zero"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe("bn-check: /dev/zero: is not a regular file (a FIFO, socket or device cannot be read)\n");
  });

  it("an ONNX tensor claiming 2^40 elements is refused before anything is allocated", () => {
    const message = {
      dims: [2 ** 40],
      dataType: 1,
      floatData: [],
      int32Data: [],
      name: "x",
      rawData: new Uint8Array(8),
      doubleData: [],
      dataLocation: 0,
    };
    expect(() => tensorFromProto(message, "big.pb")).toThrow(
      /^big\.pb: raw_data holds 8 bytes; dims \[1099511627776\] of FLOAT need 4398046511104$/,
    );
  });
});

describe("a reference whose header cannot match", () => {
  it("an .npz member of 1 GiB (1 MB deflated) against a 4x3x2x2 input: shape mismatch from its header, not inflated", () => {
    const claim = `${join(FIXTURES, "npy", "claims-1gib.npz")}:x`;
    const classic = (name: string) => join(FIXTURES, "classic", name);
    for (const args of [
      ["compare", classic("input.npy"), claim, "--format", "json"],
      ["diff", claim, classic("ref.npy"), "--format", "json"],
    ]) {
      const run = runCli(args);
      expect(run.status, run.stderr).toBe(1);
      const report = JSON.parse(run.stdout);
      expect(report.tensors[0].shapeMismatch).toBe(true);
      expect(report.files.map((f: { shape: number[] }) => f.shape)).toContainEqual([268435456]);
    }
  });
});
