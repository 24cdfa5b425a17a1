// The SIMD kernel's merges of a compare pass's per-unit results (merge_records,
// merge_channel_records, sum_histograms) against their JavaScript twins (mergeDiffRecords,
// mergeChannelDiffs, mergeHistograms), bit for bit: a one-shot compare merges with the kernel, a
// float64 or BN_CHECK_KERNEL=js one with JavaScript, and the reports must not tell them apart.
// Runs against the compiled package (dist/), where the .wasm the build assembled lives.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TensorArena } from "../../dist/core/arena.js";
import { wasmKernelFor } from "../../dist/parallel/wasm-kernel.js";
import { initDiffRecord, mergeDiffRecords, mergeHistograms } from "../../dist/kernel/diff.js";
import { mergeChannelDiffs } from "../../dist/kernel/compare-units.js";
import { planUnits } from "../../dist/kernel/units.js";
import { DIFF_RECORD_SIZE, HISTOGRAM_BUCKETS } from "../../dist/kernel/abi.js";

const bits = (values: Float64Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString("hex");

/** Record fields as compare passes leave them: counts, sums and maxima, indices or -1, NaN and infinities. */
const field = fc.oneof(
  fc.constantFrom(0, -0, 1, 2, -1, Number.NaN, Number.POSITIVE_INFINITY),
  fc.integer({ min: 0, max: 40 }),
  fc.double({ min: 0, max: 8, noNaN: true }),
);

describe("the SIMD kernel's merges", () => {
  it("merge each channel's records over its units and add the histograms as JavaScript does, bit for bit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.array(field, { minLength: 64, maxLength: 64 }),
        fc.nat(),
        (outer, channels, inner, pool, seed) => {
          const grid = planUnits({ outer, channels, inner });
          const arena = new TensorArena();
          const recordCount = grid.unitCount * grid.channelChunk;
          const records = arena.allocate("f64", recordCount * DIFF_RECORD_SIZE) as Float64Array;
          const histograms = arena.allocate("f64", grid.unitCount * HISTOGRAM_BUCKETS) as Float64Array;
          let state = seed;
          const next = () => {
            state = (Math.imul(state, 1103515245) + 12345) >>> 0;
            return state;
          };
          for (let i = 0; i < records.length; i++) records[i] = pool[next() % pool.length];
          for (let i = 0; i < histograms.length; i++) histograms[i] = next() % 1000;
          const out = arena.allocate("f64", channels * DIFF_RECORD_SIZE + HISTOGRAM_BUCKETS) as Float64Array;
          const kernel = wasmKernelFor(arena.memory);
          expect(kernel).not.toBeNull();
          kernel!.merge_channel_records(
            records.byteOffset,
            channels,
            grid.channelChunk,
            grid.outerBlocks * grid.innerBlocks,
            out.byteOffset,
          );
          kernel!.sum_histograms(
            histograms.byteOffset,
            grid.unitCount,
            out.byteOffset + channels * DIFF_RECORD_SIZE * 8,
          );
          expect(bits(out.subarray(0, channels * DIFF_RECORD_SIZE))).toBe(bits(mergeChannelDiffs(grid, records)));
          expect(Array.from(out.subarray(channels * DIFF_RECORD_SIZE))).toEqual(
            mergeHistograms(histograms, grid.unitCount),
          );
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it("fold a run of records as mergeDiffRecords does, ties, NaN and signed zeros included", () => {
    fc.assert(
      fc.property(
        fc.array(field, { minLength: DIFF_RECORD_SIZE, maxLength: 12 * DIFF_RECORD_SIZE }),
        fc.nat(3),
        (values, gap) => {
          const count = Math.floor(values.length / DIFF_RECORD_SIZE);
          const stride = DIFF_RECORD_SIZE * (1 + gap);
          const arena = new TensorArena();
          const from = arena.allocate("f64", count * stride) as Float64Array;
          for (let k = 0; k < count; k++)
            from.set(values.slice(k * DIFF_RECORD_SIZE, (k + 1) * DIFF_RECORD_SIZE), k * stride);
          const into = arena.allocate("f64", DIFF_RECORD_SIZE) as Float64Array;
          initDiffRecord(into, 0);
          const expected = new Float64Array(DIFF_RECORD_SIZE);
          initDiffRecord(expected, 0);
          mergeDiffRecords(expected, 0, from, 0, count, stride);
          wasmKernelFor(arena.memory)!.merge_records(into.byteOffset, from.byteOffset, count, stride * 8);
          expect(bits(into)).toBe(bits(expected));
        },
      ),
      { seed: 12, numRuns: 500 },
    );
  });
});
