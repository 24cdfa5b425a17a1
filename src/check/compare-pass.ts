/**
 * A compare pass's per-unit results (diff records, worst lists, histograms) merged in unit order
 * into the report of one tensor, its scratch given back to the arena: the one way `checkBatchNorm`
 * and the gradient check turn a pass into a `TensorComparison`.
 */
import {
  channelRecordsOf,
  readsRecordsInPlace,
  summarizeDiff,
  type SummarizeInput,
  type TensorComparison,
} from "./compare.js";
import { mergeHistograms, mergeWorst } from "../kernel/diff.js";
import { DIFF_RECORD_SIZE, HISTOGRAM_BUCKETS } from "../kernel/abi.js";
import type { UnitGrid } from "../kernel/units.js";
import { arenaOf } from "../core/arena.js";
import { releaseScratch, type PassResult } from "../parallel/executor.js";
import { wasmKernelFor } from "../parallel/wasm-kernel.js";

export function comparisonFromPass(
  pass: PassResult,
  grid: UnitGrid,
  input: Omit<SummarizeInput, "channelRecords" | "channelCount" | "worst" | "histogram">,
): TensorComparison {
  const { records, worst, histograms } = pass.arrays;
  const merged = mergedByKernel(grid, records, histograms);
  const comparison = summarizeDiff({
    ...input,
    channelRecords: merged?.channelRecords ?? channelRecordsOf(grid, records),
    channelCount: grid.geometry.channels,
    worst: mergeWorst(worst, grid.unitCount),
    histogram: merged?.histogram ?? mergeHistograms(histograms, grid.unitCount),
  });
  if (merged !== null) arenaOf(merged.block)?.release(merged.block);
  releaseScratch(pass);
  return comparison;
}

/**
 * The channel records and the histogram merged by the SIMD kernel (`merge_channel_records`,
 * `sum_histograms`: the same bits as channelRecordsOf and mergeHistograms) into one block of the
 * arena the pass's scratch is in, given back once the summary is made; null where JavaScript merges
 * (no arena, no kernel, BN_CHECK_KERNEL=js, or records a wide tensor reads where they are). Once per
 * process in a one-shot run, the JavaScript merges run before V8 has optimised them: 2-4 ms for the
 * 2,080 records of 32x64x56x56, against tens of microseconds here.
 */
function mergedByKernel(
  grid: UnitGrid,
  records: Float64Array,
  histograms: Float64Array,
): { readonly block: Float64Array; readonly channelRecords: Float64Array; readonly histogram: number[] } | null {
  const { channels } = grid.geometry;
  const arena = arenaOf(records);
  const kernel = arena === null ? null : wasmKernelFor(arena.memory);
  if (arena === null || kernel === null || arenaOf(histograms) !== arena || channels === 0 || readsRecordsInPlace(grid))
    return null;
  const recordValues = channels * DIFF_RECORD_SIZE;
  const block = arena.allocate("f64", recordValues + HISTOGRAM_BUCKETS, false) as Float64Array | null;
  if (block === null) return null;
  kernel.merge_channel_records(
    records.byteOffset,
    channels,
    grid.channelChunk,
    grid.outerBlocks * grid.innerBlocks,
    block.byteOffset,
  );
  kernel.sum_histograms(histograms.byteOffset, grid.unitCount, block.byteOffset + recordValues * 8);
  return {
    block,
    channelRecords: block.subarray(0, recordValues),
    histogram: Array.from(block.subarray(recordValues)),
  };
}
