/**
 * The SIMD kernel's adapters: each runs a pass's units through the WebAssembly exports
 * (bn-kernel.wat) over arrays that live in the kernel's memory, and computes what the JavaScript
 * twin in stats.ts, normalize.ts or compare-units.ts computes, bit for bit. Pointers are byte offsets
 * into that memory (the arrays' byteOffset).
 */
import type { DiffRule } from "./diff.js";
import { DIFF_RECORD_SIZE, HISTOGRAM_BUCKETS, WORST_KEPT } from "./abi.js";
import { STATS_RECORD_SIZE } from "./abi.js";
import { GRAD_LANE_SCRATCH, GRAD_RECORD_SIZE } from "./abi.js";
import type { CompareArrays } from "./compare-units.js";
import { emptyBox, unitBox, type UnitGrid } from "./units.js";
import type { WasmKernel } from "./wasm-abi.js";
import { C_OFFSET, C_SCALE, C_SHIFT, GC_CENTRED_SCALE, GC_DY_SCALE, GC_MEAN, GC_OFFSET } from "./abi.js";

/** `computeStatsUnits` on the SIMD kernel (float32 input; geometries `simdRunsStats` allows). */
export function statsUnitsSimd(
  wasm: WasmKernel,
  input: Float32Array,
  grid: UnitGrid,
  firstUnit: number,
  endUnit: number,
  partials: Float64Array,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const { o0, o1, c0, c1, i0, i1 } = box;
    const count = (o1 - o0) * (i1 - i0);
    const recordBytes = partials.byteOffset + unit * grid.channelChunk * STATS_RECORD_SIZE * 8;
    if (inner === 1) {
      wasm.stats_rows(input.byteOffset + (o0 * channels + c0) * 4, o1 - o0, channels * 4, c1 - c0, count, recordBytes);
    } else {
      for (let c = c0; c < c1; c++) {
        wasm.stats_cols(
          input.byteOffset + ((o0 * channels + c) * inner + i0) * 4,
          o1 - o0,
          channels * inner * 4,
          i1 - i0,
          count,
          recordBytes + (c - c0) * STATS_RECORD_SIZE * 8,
        );
      }
    }
  }
}

/** `normalizeUnits` on the SIMD kernel (float32 input and output). */
export function normalizeUnitsSimd(
  wasm: WasmKernel,
  input: Float32Array,
  grid: UnitGrid,
  constants: Float64Array,
  firstUnit: number,
  endUnit: number,
  output: Float32Array,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const { o0, o1, c0, c1, i0, i1 } = box;
    if (inner === 1) {
      const first = (o0 * channels + c0) * 4;
      const constantsBytes = constants.byteOffset + c0 * 8;
      wasm.normalize_rows(
        input.byteOffset + first,
        output.byteOffset + first,
        o1 - o0,
        channels * 4,
        c1 - c0,
        constantsBytes,
        constantsBytes + channels * 8,
        constantsBytes + 2 * channels * 8,
      );
    } else {
      for (let c = c0; c < c1; c++) {
        const first = ((o0 * channels + c) * inner + i0) * 4;
        wasm.normalize_cols(
          input.byteOffset + first,
          output.byteOffset + first,
          o1 - o0,
          channels * inner * 4,
          i1 - i0,
          constants[C_SHIFT * channels + c],
          constants[C_SCALE * channels + c],
          constants[C_OFFSET * channels + c],
        );
      }
    }
  }
}

/**
 * `compareUnits` on the SIMD kernel (float32 input and reference, ulps in float32): one call per
 * unit (`compare_unit` compares its channels one after another), records and worst lists in place.
 */
export function compareUnitsSimd(
  wasm: WasmKernel,
  arrays: CompareArrays<Float32Array>,
  grid: UnitGrid,
  rule: DiffRule,
  firstUnit: number,
  endUnit: number,
): void {
  const { input, reference, constants, records, worst, histograms, addend = null, addendScale = null } = arrays;
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  // Channels-last data: the channel's column is one run, gathered `channels` values apart.
  const columnRun = inner === 1;
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const first = (box.o0 * channels + box.c0) * inner + box.i0;
    wasm.compare_unit(
      input.byteOffset + first * 4,
      reference.byteOffset + first * 4,
      columnRun ? 1 : box.o1 - box.o0,
      channels * inner * 4,
      columnRun ? box.o1 - box.o0 : box.i1 - box.i0,
      columnRun ? channels * 4 : 4,
      columnRun ? channels : 1,
      first,
      channels * inner,
      box.c1 - box.c0,
      inner * 4,
      inner,
      constants.byteOffset + box.c0 * 8,
      channels * 8,
      rule.atol,
      rule.rtol,
      rule.equalNan ? 1 : 0,
      records.byteOffset + unit * grid.channelChunk * DIFF_RECORD_SIZE * 8,
      worst.byteOffset + unit * WORST_KEPT * 2 * 8,
      histograms.byteOffset + unit * HISTOGRAM_BUCKETS * 8,
      addend === null ? 0 : addend.byteOffset + first * 4,
      addendScale === null ? 0 : addendScale.byteOffset + box.c0 * 8,
    );
  }
}

/**
 * `gradSumsUnits` on the SIMD kernel (float32 x and dy): one call
 * per channel of a unit; `lanes` holds each unit's lane scratch.
 */
export function gradSumsUnitsSimd(
  wasm: WasmKernel,
  input: Float32Array,
  gradOutput: Float32Array,
  grid: UnitGrid,
  mean: Float64Array,
  firstUnit: number,
  endUnit: number,
  partials: Float64Array,
  lanes: Float64Array,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const { o0, o1, c0, c1, i0, i1 } = box;
    const scratch = lanes.byteOffset + unit * GRAD_LANE_SCRATCH * 8;
    for (let c = c0; c < c1; c++) {
      const first = ((o0 * channels + c) * inner + i0) * 4;
      const out = partials.byteOffset + (unit * grid.channelChunk + (c - c0)) * GRAD_RECORD_SIZE * 8;
      wasm.gradsums_cols(
        input.byteOffset + first,
        gradOutput.byteOffset + first,
        o1 - o0,
        channels * inner * 4,
        i1 - i0,
        mean[c],
        out,
        scratch,
      );
    }
  }
}

/** `gradInputUnits` on the SIMD kernel (float32 x and dy; dx float32 or float64). */
export function gradInputUnitsSimd(
  wasm: WasmKernel,
  input: Float32Array,
  gradOutput: Float32Array,
  grid: UnitGrid,
  constants: Float64Array,
  firstUnit: number,
  endUnit: number,
  output: Float32Array | Float64Array,
): void {
  const { channels, inner } = grid.geometry;
  const box = emptyBox();
  const wide = output instanceof Float64Array ? 1 : 0;
  for (let unit = firstUnit; unit < endUnit; unit++) {
    unitBox(grid, unit, box);
    const { o0, o1, c0, c1, i0, i1 } = box;
    for (let c = c0; c < c1; c++) {
      const element = (o0 * channels + c) * inner + i0;
      wasm.gradinput_cols(
        input.byteOffset + element * 4,
        gradOutput.byteOffset + element * 4,
        output.byteOffset + element * output.BYTES_PER_ELEMENT,
        o1 - o0,
        channels * inner * 4,
        i1 - i0,
        constants[GC_MEAN * channels + c],
        constants[GC_DY_SCALE * channels + c],
        constants[GC_CENTRED_SCALE * channels + c],
        constants[GC_OFFSET * channels + c],
        wide,
      );
    }
  }
}
