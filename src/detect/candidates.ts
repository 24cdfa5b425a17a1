/**
 * The conventions `detect` tries, as data: every preset's arithmetic on every plausible channel axis,
 * with the preset's eps (after its floor), a fitted eps, and a few well-known wrong implementations.
 * Every candidate is a per-channel affine map y = (x − shift)·scale + offset, so that evaluating one
 * is one comparison pass over the data with other constants.
 */
export type Flaw =
  /** y = (x − μ)/(sqrt(σ²) + eps): eps added to the standard deviation (darknet, ncnn proposals). */
  | "eps-on-std"
  /** The unbiased (÷(N−1)) variance used to normalise in training. */
  | "unbiased-normalization"
  /** BatchNorm applied twice: an input that was already normalised once. */
  | "normalized-twice";

export const FLAW_DESCRIPTIONS: Readonly<Record<Flaw, string>> = {
  "eps-on-std": "eps added to the standard deviation instead of the variance",
  "unbiased-normalization": "normalised with the unbiased (÷(N−1)) batch variance",
  "normalized-twice": "the input normalised twice (BatchNorm applied to an already normalised tensor)",
};

export interface CandidateSpec {
  /** Presets whose arithmetic this is (the first is the one named). */
  readonly frameworks: readonly string[];
  readonly mode: "train" | "eval";
  readonly channelAxis: number;
  readonly epsilon: number;
  readonly epsilonSource: "default" | "floor" | "fitted" | "given";
  /** Whether weight and bias were applied (false: identity, as with affine=False). */
  readonly affine: boolean;
  readonly flaw: Flaw | null;
}

/** A key for candidates that compute the same numbers (so that they are evaluated once). */
export function arithmeticKey(spec: CandidateSpec): string {
  return `${spec.mode}|${spec.channelAxis}|${spec.epsilon}|${spec.affine}|${spec.flaw ?? ""}`;
}
