/** The floating-point dtypes bn-check deals in: a leaf module, so that every layer can name them. */

/** The float dtypes bn-check accepts as BN input, parameters and references. */
export const FLOAT_DTYPES = ["float16", "float32", "float64"] as const;
export type FloatDType = (typeof FLOAT_DTYPES)[number];

/**
 * Precisions a reference may have been computed in. `bfloat16` has no .npy dtype: such references
 * are stored upcast to float32 and named with `--compute-dtype bfloat16`.
 */
export const COMPUTE_DTYPES = ["float16", "bfloat16", "float32", "float64"] as const;
export type ComputeDType = (typeof COMPUTE_DTYPES)[number];
