/**
 * The kernel's passes, one record each: the arrays a task carries (given by the caller, or scratch
 * the pass allocates for its per-unit results), the JavaScript kernel, its WebAssembly SIMD adapter
 * and when that adapter applies. The executor runs every pass through `runPass`, the worker runs
 * `PASSES[task.op]`: a new pass is a new record here (and its kernels), nothing else.
 */
import {
  compareUnits,
  computeStatsUnits,
  diffRecordsLength,
  histogramsLength,
  normalizeUnits,
  simdRunsStats,
  statsPartialsLength,
  worstListsLength,
} from "../kernel/batch-norm.js";
import type { CompareArrays } from "../kernel/compare-units.js";
import type { DiffRule } from "../kernel/diff.js";
import {
  compareUnitsSimd,
  gradInputUnitsSimd,
  gradSumsUnitsSimd,
  normalizeUnitsSimd,
  statsUnitsSimd,
} from "../kernel/wasm-adapters.js";
import { gradInputUnits, gradSumsLength, gradSumsUnits } from "../kernel/backward.js";
import { GRAD_LANE_SCRATCH } from "../kernel/abi.js";
import { streamedPass } from "./stream.js";
import type { PassArrays, PassDefinition } from "./pass-definition.js";

export type { PassArrays, PassDefinition } from "./pass-definition.js";

const f64 = (arrays: PassArrays, name: string) => arrays[name] as Float64Array;
const f32 = (arrays: PassArrays, name: string) => arrays[name] as Float32Array;

const stats: PassDefinition<null> = {
  given: ["input"],
  scratch: { partials: statsPartialsLength },
  tensors: ["input"],
  simd: (grid) => simdRunsStats(grid.geometry),
  js: (a, grid, _params, first, end) => computeStatsUnits(a.input, grid, first, end, f64(a, "partials")),
  wasm: (kernel, a, grid, _params, first, end) =>
    statsUnitsSimd(kernel, f32(a, "input"), grid, first, end, f64(a, "partials")),
};

const normalize: PassDefinition<null> = {
  given: ["input", "constants", "output"],
  scratch: {},
  tensors: ["input", "output"],
  simd: () => true,
  js: (a, grid, _params, first, end) => normalizeUnits(a.input, grid, f64(a, "constants"), first, end, a.output),
  wasm: (kernel, a, grid, _params, first, end) =>
    normalizeUnitsSimd(kernel, f32(a, "input"), grid, f64(a, "constants"), first, end, f32(a, "output")),
};

/** A compare pass's arrays as its kernels take them (dx adds the addend a·dy, `gradScale` per channel). */
function compareArrays<V extends Float32Array | Float64Array>(
  a: PassArrays,
  values: (a: PassArrays, name: string) => V,
  withAddend: boolean,
): CompareArrays<V> {
  return {
    input: values(a, "input"),
    reference: values(a, "reference"),
    constants: f64(a, "constants"),
    records: f64(a, "records"),
    worst: f64(a, "worst"),
    histograms: f64(a, "histograms"),
    addend: withAddend ? values(a, "gradOutput") : null,
    addendScale: withAddend ? f64(a, "gradScale") : null,
  };
}
const values = (arrays: PassArrays, name: string) => arrays[name] as Float32Array | Float64Array;

const compare: PassDefinition<DiffRule> = {
  given: ["input", "reference", "constants"],
  scratch: {
    records: diffRecordsLength,
    worst: (grid) => Math.max(1, worstListsLength(grid)),
    histograms: histogramsLength,
  },
  tensors: ["input", "reference"],
  // The SIMD kernel counts float32 ulps; other precisions stay with JavaScript.
  simd: (_grid, rule) => rule.ulpDtype === "float32",
  js: (a, grid, rule, first, end) => compareUnits(compareArrays(a, values, false), grid, rule, first, end),
  wasm: (kernel, a, grid, rule, first, end) =>
    compareUnitsSimd(kernel, compareArrays(a, f32, false), grid, rule, first, end),
};

/** Runs (one row's values of a channel) long enough for the SIMD kernel's lanes to pay. */
const SIMD_BACKWARD_MIN_RUN = 8;

const gradSums: PassDefinition<null> = {
  given: ["input", "gradOutput", "mean"],
  scratch: { partials: gradSumsLength, lanes: (grid) => grid.unitCount * GRAD_LANE_SCRATCH },
  tensors: ["input", "gradOutput"],
  simd: (grid) => grid.geometry.inner >= SIMD_BACKWARD_MIN_RUN,
  js: (a, grid, _params, first, end) =>
    gradSumsUnits(a.input, a.gradOutput, grid, f64(a, "mean"), first, end, f64(a, "partials")),
  wasm: (kernel, a, grid, _params, first, end) =>
    gradSumsUnitsSimd(
      kernel,
      f32(a, "input"),
      f32(a, "gradOutput"),
      grid,
      f64(a, "mean"),
      first,
      end,
      f64(a, "partials"),
      f64(a, "lanes"),
    ),
};

const gradInput: PassDefinition<null> = {
  given: ["input", "gradOutput", "constants", "output"],
  scratch: {},
  tensors: ["input", "gradOutput"],
  simd: (grid) => grid.geometry.inner >= SIMD_BACKWARD_MIN_RUN,
  js: (a, grid, _params, first, end) =>
    gradInputUnits(a.input, a.gradOutput, grid, f64(a, "constants"), first, end, a.output),
  wasm: (kernel, a, grid, _params, first, end) =>
    gradInputUnitsSimd(kernel, f32(a, "input"), f32(a, "gradOutput"), grid, f64(a, "constants"), first, end, a.output),
};

/** dx compared where it is computed: the compare pass with the addend a·dy (dx is never stored). */
const compareGradInput: PassDefinition<DiffRule> = {
  given: ["input", "reference", "constants", "gradOutput", "gradScale"],
  scratch: compare.scratch,
  tensors: ["input", "reference", "gradOutput"],
  simd: compare.simd,
  js: (a, grid, rule, first, end) => compareUnits(compareArrays(a, values, true), grid, rule, first, end),
  wasm: (kernel, a, grid, rule, first, end) =>
    compareUnitsSimd(kernel, compareArrays(a, f32, true), grid, rule, first, end),
};

// The statistics and compare passes over tensors read from their files unit by unit (stream.ts).
const statsStreamed = streamedPass(stats);
const compareStreamed = streamedPass(compare);

export const PASSES = {
  stats,
  statsStreamed,
  normalize,
  compare,
  compareStreamed,
  gradSums,
  gradInput,
  compareGradInput,
} as const;

export type PassName = keyof typeof PASSES;
/** The parameters each pass takes (the comparison rule for compare, none for the others). */
export type PassParams<Op extends PassName> = (typeof PASSES)[Op] extends PassDefinition<infer P> ? P : never;
