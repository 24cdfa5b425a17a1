/**
 * Default tolerances and where they come from. The defaults are torch.testing.assert_close's, chosen
 * by the precision the reference was computed in (its dtype, or `--compute-dtype`).
 * Reference: pytorch torch/testing/_comparison.py (`_DTYPE_PRECISIONS`).
 */
import { UsageError } from "../core/errors.js";
import type { ComputeDType } from "../core/tensor.js";

export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

export const TORCH_DEFAULT_TOLERANCES: Readonly<Record<ComputeDType, Tolerance>> = Object.freeze({
  float16: { rtol: 1e-3, atol: 1e-5 },
  bfloat16: { rtol: 1.6e-2, atol: 1e-5 },
  float32: { rtol: 1.3e-6, atol: 1e-5 },
  float64: { rtol: 1e-7, atol: 1e-7 },
});

export interface ResolvedTolerance extends Tolerance {
  /** Human-readable provenance, e.g. "torch.testing default for float32". */
  readonly source: string;
}

/**
 * @param dtype - the precision the reference was computed in.
 * @param given - tolerances from the command line; a missing one falls back to the default.
 */
export function resolveTolerance(dtype: ComputeDType, given: Partial<Tolerance> = {}): ResolvedTolerance {
  for (const [name, value] of Object.entries(given)) {
    if (value !== undefined && !(value >= 0 && Number.isFinite(value)))
      throw new UsageError(`${name} must be a finite number >= 0; got ${value}`);
  }
  const defaults = TORCH_DEFAULT_TOLERANCES[dtype];
  const fromDefault = `torch.testing.assert_close default for ${dtype}`;
  if (given.atol !== undefined && given.rtol !== undefined)
    return { atol: given.atol, rtol: given.rtol, source: "given" };
  if (given.atol === undefined && given.rtol === undefined) return { ...defaults, source: fromDefault };
  return {
    atol: given.atol ?? defaults.atol,
    rtol: given.rtol ?? defaults.rtol,
    source: given.atol !== undefined ? `atol given, rtol: ${fromDefault}` : `rtol given, atol: ${fromDefault}`,
  };
}
