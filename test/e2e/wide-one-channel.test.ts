// 2 × 2^16 channels (two values a channel): what is kept per channel is bounded (the report lists
// the channels that matter, hints fit only the failing ones, detect keeps no per-candidate
// constants), and verdicts stay right: one wrong channel among 65,536 still fails and is named.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { channelRecordsOf } from "../../src/check/compare.js";
import { compareInThread, mergeChannelDiffs } from "../../src/kernel/batch-norm.js";
import { CONSTANT_RUNS, DIFF_RECORD_SIZE } from "../../src/kernel/abi.js";
import { planUnits } from "../../src/kernel/units.js";
import { tensorFromArray } from "../../src/core/tensor.js";
import { writeNpy } from "../../src/io/npy/write-npy.js";
import { normals, runCli, seededRandom } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "bn-check-wide-one-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const channels = 1 << 16;
const wrong = 40_000;
const values = normals(seededRandom(11), 2 * channels, 0, 1);
const input = join(dir, "x.npy");
writeNpy(input, tensorFromArray(values, [2, channels], "float32"));
// Train-mode BatchNorm of two values a channel: ±|d|/√(d²/4 + eps)/2 with d their difference.
const y = new Float32Array(2 * channels);
for (let c = 0; c < channels; c++) {
  const d = values[c] - values[channels + c];
  const s = Math.abs(d) / Math.sqrt((d * d) / 4 + 1e-5) / 2;
  y[c] = Math.sign(d) * s;
  y[channels + c] = -Math.sign(d) * s;
}
const good = join(dir, "good.npy");
writeNpy(good, tensorFromArray(y, [2, channels], "float32"));
const bad = join(dir, "bad.npy");
y[wrong] += 0.5;
writeNpy(bad, tensorFromArray(y, [2, channels], "float32"));

describe("wide data, one wrong channel in 65,536", () => {
  it("the right reference conforms, with an empty channel table and null batch statistics", () => {
    const run = runCli(["compare", input, good, "--framework", "torch", "--format", "json"]);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.tensors[0].channelCount).toBe(channels);
    expect(report.tensors[0].mismatches).toBe(0);
    expect(report.tensors[0].channels.length).toBeLessThanOrEqual(1024);
    expect(report.batchStatistics).toBeNull();
  });

  it("compare fails, lists that channel alone and the hint names it", () => {
    const run = runCli(["compare", input, bad, "--framework", "torch", "--format", "json"]);
    expect(run.status, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout);
    const output = report.tensors[0];
    expect(output.verdict).toBe("does not conform");
    expect(output.mismatches).toBe(1);
    expect(output.channelCount).toBe(channels);
    // Listed: the channels outside the flat tolerance (a few are, within their bound), not all 65,536.
    type Row = { channel: number; mismatches: number; flatMismatches: number };
    expect(output.channels.length).toBeLessThan(100);
    expect(output.channels.every((c: Row) => c.flatMismatches > 0)).toBe(true);
    expect(output.channels.filter((c: Row) => c.mismatches > 0).map((c: Row) => c.channel)).toEqual([wrong]);
    expect(output.channelsOmitted).toBe(0);
    expect(output.maxAbsError.index).toEqual([0, wrong]);
    expect(report.hints[0]).toMatch(
      new RegExp(`^channel ${wrong} differs by a constant .* \\(the other ${channels - 1} channel\\(s\\) conform\\)`),
    );
  });

  it("the text report names the channel too", () => {
    const run = runCli(["compare", input, bad, "--framework", "torch"]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`[0, ${wrong}]`);
    expect(run.stdout).toContain(`hint: channel ${wrong} differs`);
  });

  it("detect names torch-style train mode on the right reference", () => {
    const run = runCli(["detect", input, good, "--format", "json"]);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.best.verdict).not.toBe("does not conform");
    expect(report.best.mode).toBe("train");
    expect(report.best.checkedFully).toBe(true);
  });

  it("reading a wide pass's records in place gives the merged records", () => {
    const geometry = { outer: 2, channels, inner: 1 };
    const grid = planUnits(geometry);
    expect(grid.outerBlocks * grid.innerBlocks).toBe(1);
    const constants = new Float64Array(CONSTANT_RUNS * channels);
    constants.fill(1, channels, 2 * channels);
    const x = Float32Array.from(values);
    const { records } = compareInThread(x, y, constants, grid, {
      atol: 1e-5,
      rtol: 1.3e-6,
      equalNan: false,
      ulpDtype: "float32",
    });
    const inPlace = channelRecordsOf(grid, records);
    expect(inPlace.length).toBe(channels * DIFF_RECORD_SIZE);
    expect(Array.from(inPlace)).toEqual(Array.from(mergeChannelDiffs(grid, records)));
  });
});
