/**
 * The report model: what a command found, as data. Reporters render it; nothing here formats text.
 * JSON output is this object (schemaVersion 1), with non-finite numbers written as the strings
 * "NaN", "Infinity" and "-Infinity" so that the document stays strict JSON.
 */
import type { TensorComparison } from "../compare/compare.js";
import type { FloatDType } from "../npy/tensor.js";

export const REPORT_SCHEMA_VERSION = 1;

export interface FileInfo {
  readonly role: string;
  readonly path: string;
  readonly dtype: FloatDType;
  readonly shape: readonly number[];
}

export interface ConventionInfo {
  readonly framework: string;
  readonly label: string;
  readonly mode: "train" | "eval";
  readonly layout: string;
  readonly channelAxis: number;
  readonly epsilon: number;
  readonly requestedEpsilon: number;
  readonly momentum: number | null;
  readonly momentumMeaning: string;
  readonly runningVarEstimator: "biased" | "unbiased" | "none";
  readonly variant: string | null;
  readonly notes: readonly string[];
  readonly sources: readonly string[];
}

export interface Timings {
  readonly readMs: number;
  readonly statsMs: number;
  readonly compareMs: number;
  readonly totalMs: number;
  readonly threads: number;
}

export interface CompareReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: { readonly name: "bn-check"; readonly version: string };
  readonly command: "compare";
  readonly conforms: boolean;
  readonly verdict: "conforms" | "does not conform";
  readonly exitCode: 0 | 1;
  readonly files: readonly FileInfo[];
  readonly convention: ConventionInfo;
  readonly tensors: readonly TensorComparison[];
  readonly batchStatistics: { readonly mean: readonly number[]; readonly variance: readonly number[] } | null;
  readonly timings: Timings;
}

export type Report = CompareReport;
