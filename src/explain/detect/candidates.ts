/**
 * The conventions `detect` tries, as data: every preset's arithmetic on every plausible channel axis,
 * with the preset's eps (after its floor), a fitted eps, and a few well-known wrong implementations.
 * Every candidate is a per-channel affine map y = (x − shift)·scale + offset, so that evaluating one
 * is one comparison pass over the data with other constants.
 */
import type { Verdict } from "../../check/compare.js";
import type { FrameworkName } from "../../conventions/index.js";
import type { Mode } from "../../conventions/resolve.js";
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

/** The convention the user believes in (from --framework and friends), for the one-sentence diagnosis. */
export interface ClaimedConvention {
  readonly framework?: FrameworkName;
  readonly mode?: Mode;
  readonly channelAxis?: number;
  readonly epsilon?: number;
  readonly momentum?: number;
}

export interface Candidate {
  readonly framework: string;
  readonly mode: Mode;
  readonly channelAxis: number;
  readonly layout: string;
  readonly eps: number;
  readonly epsSource: CandidateSpec["epsilonSource"];
  readonly affine: boolean;
  readonly flaw: Flaw | null;
  /** null when the reference is in the input's element order; else how it was stored. */
  readonly referenceOrder: string | null;
  readonly description: string;
  /** Momentum in the framework's own meaning, when running statistics identified it. */
  readonly momentum: number | null;
  readonly runningVar: "biased" | "unbiased" | null;
  readonly maxAbsError: number;
  readonly maxUlp: number;
  readonly mismatches: number;
  readonly count: number;
  /** Whether the full tensor was compared (false: ranked on a prefix only). */
  readonly checkedFully: boolean;
  readonly runningStatsPassed: boolean | null;
  /** Judged as compare judges: within the flat tolerance, or within the error model's bound, or neither. */
  readonly verdict: Verdict;
}
