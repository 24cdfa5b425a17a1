// Tensors with hundreds of thousands of channels: reports list the channels that matter (all of
// them on request) instead of an object per channel, JSON is written, and detect does not overflow.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tensorFromArray } from "../../src/core/tensor.js";
import { writeNpy } from "../../src/io/npy/write-npy.js";
import { normals, runCli, seededRandom } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "bn-check-wide-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const channels = 250_000;
const input = join(dir, "x.npy");
const reference = join(dir, "y.npy");
const values = normals(seededRandom(3), 2 * channels, 0, 1);
writeNpy(input, tensorFromArray(values, [2, channels], "float32"));
// BatchNorm of two values per channel is ±1 (variance 1 = half the squared difference); 3000
// channels of the reference are made wrong.
const y = new Float32Array(2 * channels);
for (let c = 0; c < channels; c++) {
  const d = values[c] - values[channels + c];
  const s = Math.abs(d) / Math.sqrt((d * d) / 4 + 1e-5) / 2;
  y[c] = Math.sign(d) * s;
  y[channels + c] = -Math.sign(d) * s;
  if (c % 83 === 0) y[c] += 0.5;
}
writeNpy(reference, tensorFromArray(y, [2, channels], "float32"));

describe("wide data", () => {
  it("compare --format json: the worst 1024 failing channels, and how many more there are", () => {
    const run = runCli(["compare", input, reference, "--layout", "NC", "--format", "json"]);
    expect(run.status, run.stderr).toBe(1);
    const output = JSON.parse(run.stdout).tensors[0];
    expect(output.channelCount).toBe(channels);
    expect(output.channels).toHaveLength(1024);
    // Every wrong channel is outside the flat tolerance (a few more are too, within their bound).
    expect(output.channelsOmitted).toBeGreaterThanOrEqual(Math.ceil(channels / 83) - 1024);
    expect(
      output.channels.every((c: { mismatches: number; channel: number }) => c.mismatches > 0 && c.channel % 83 === 0),
    ).toBe(true);
    // Batch statistics of 250,000 channels are not carried (two numbers a channel made an 80 MB report at 2^21).
    expect(JSON.parse(run.stdout).batchStatistics).toBeNull();
    expect(run.stdout.length).toBeLessThan(2_000_000);
  });

  it("--all-channels carries every channel's batch statistics", () => {
    const run = runCli(["compare", input, reference, "--layout", "NC", "--format", "json", "--all-channels"]);
    expect(JSON.parse(run.stdout).batchStatistics.mean).toHaveLength(channels);
  });

  it("--all-channels lists every channel", () => {
    const run = runCli(["compare", input, reference, "--layout", "NC", "--format", "json", "--all-channels"]);
    const output = JSON.parse(run.stdout).tensors[0];
    expect(output.channels).toHaveLength(channels);
    expect(output.channelsOmitted).toBe(0);
  });

  it("the text report says how many channels it leaves out", () => {
    const run = runCli(["compare", input, reference, "--layout", "NC"]);
    expect(run.stdout).toMatch(
      new RegExp(
        `channels {8}${channels} in all; the table lists the worst 1024 of the ` +
          `\\d+ outside the flat tolerance \\(--all-channels lists every one\\)`,
      ),
    );
  });

  it("detect on a quarter of a million channels ends with a diagnosis", () => {
    const run = runCli(["detect", input, input, "--format", "json"]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).diagnosis).toMatch(/^ref /);
  });
});
