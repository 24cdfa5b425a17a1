import { RUNNING_WEIGHTED_DEFAULTS, TRAIN_BATCH_EVAL_RUNNING, type Convention } from "./convention.js";

/**
 * flax.linen.BatchNorm. Sources (docs/conventions.md §6): flax/linen/normalization.py (`BatchNorm`:
 * axis=-1, momentum=0.99, epsilon=1e-5; `_compute_stats`: biased variance; `__call__`:
 * ra = momentum·ra + (1−momentum)·batch with the biased variance; `_normalize`: rsqrt(var + eps)).
 * Flax's default fast variance E[x²] − E[x]² is less accurate than the exact value bn-check
 * computes: large-mean inputs can legitimately fail against a float64 recomputation.
 */
export const flax = Object.freeze({
  ...RUNNING_WEIGHTED_DEFAULTS,
  id: "flax",
  label: "flax.linen.BatchNorm",
  channelAxis: -1,
  epsilon: 1e-5,
  momentum: 0.99,
  backward: {
    statistics: TRAIN_BATCH_EVAL_RUNNING,
    sources: [
      "flax/linen/normalization.py (BatchNorm: jax.grad differentiates through _compute_stats when use_running_average=False)",
    ],
  },
  sources: ["flax/linen/normalization.py (BatchNorm, _compute_stats, _normalize)"],
  docsUrl: "https://flax.readthedocs.io/en/latest/api_reference/flax.linen/layers.html#flax.linen.BatchNorm",
} as const satisfies Convention);
