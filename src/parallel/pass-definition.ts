/** What a pass is (its arrays, kernels and when the SIMD one applies): one record per pass in passes.ts. */
import type { UnitGrid } from "../kernel/units.js";
import type { WasmKernel } from "../kernel/wasm-abi.js";

type Values = Float32Array | Float64Array;
export type PassArrays = Readonly<Record<string, Values>>;

export interface PassDefinition<Params> {
  /** Arrays the caller gives, by name; the first is the input (scratch is allocated beside it). */
  readonly given: readonly string[];
  /** Arrays the pass allocates (zeroed float64), with their length for a unit grid. */
  readonly scratch: Readonly<Record<string, (grid: UnitGrid) => number>>;
  /** The tensors the SIMD kernel reads as float32 (every other array must share their arena). */
  readonly tensors: readonly string[];
  /** Whether the SIMD adapter applies, once the arrays are float32 and in its memory. */
  readonly simd: (grid: UnitGrid, params: Params) => boolean;
  readonly js: (arrays: PassArrays, grid: UnitGrid, params: Params, firstUnit: number, endUnit: number) => void;
  readonly wasm: (
    kernel: WasmKernel,
    arrays: PassArrays,
    grid: UnitGrid,
    params: Params,
    firstUnit: number,
    endUnit: number,
  ) => void;
}
