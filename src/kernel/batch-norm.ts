/**
 * The BatchNorm kernel: pure functions over typed arrays, a unit grid and per-channel constants.
 * No I/O, no framework names, no threads: the pool and the single-thread path both call these.
 *
 * Method.
 * - Statistics: inside each unit (≈64 KiB, cache-resident) a corrected two-pass computation in
 *   float64: m = Σx/n, then M2 = Σ(x−m)² − (Σ(x−m))²/n. Units of a channel are merged in unit order
 *   with Chan et al.'s pairwise update (δ = m_b − m_a; m = m_a + δ·n_b/n;
 *   M2 = M2_a + M2_b + δ²·n_a·n_b/n). The result is as accurate as a float64 two-pass computation
 *   over the whole channel (a channel with mean 1e4 and std 1e-2 keeps its variance to ~1e-16
 *   relative), and identical for every thread count, because the units and the merge order are.
 * - Normalisation: y = (x − μ)·s + β with s = γ / sqrt(σ² + eps), per-channel constants computed
 *   once. Subtracting μ before scaling (rather than the folded x·s + (β − μ·s) that PyTorch's CPU
 *   eval path uses) avoids cancellation when |μ| ≫ σ; y is rounded once, to the output dtype.
 *
 * References: S. Ioffe, C. Szegedy, "Batch Normalization" (2015), Algorithm 1; T. F. Chan,
 * G. H. Golub, R. J. LeVeque, "Algorithms for computing the sample variance" (1983).
 */
export {
  computeStatsUnits,
  mergeChannelStats,
  simdRunsStats,
  statsPartialsLength,
  type ChannelStats,
} from "./stats.js";
export { affineConstants, normalizeUnits } from "./normalize.js";
export {
  compareInThread,
  compareUnits,
  diffRecordsLength,
  histogramsLength,
  mergeChannelDiffs,
  worstListsLength,
} from "./compare-units.js";
