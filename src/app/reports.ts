/**
 * The report model: what a command found, as data. Reporters render it; nothing here formats text.
 * JSON output is this object (schemaVersion 2), with non-finite numbers written as the strings
 * "NaN", "Infinity" and "-Infinity" so that the document stays strict JSON.
 */
import type { TensorComparison, Verdict } from "../check/compare.js";
import type { ExitCode } from "./exit-code.js";
import type { FloatDType } from "../core/tensor.js";
import type { Candidate, DetectResult } from "../explain/detect/detect.js";
import type { GradientFinding } from "../explain/detect/gradients.js";

/** 2: three-valued `verdict`, the error model's `bound` and `flatMismatches` per tensor, `hints`. */
export const REPORT_SCHEMA_VERSION = 2;

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
  /** The kernel each pass ran on ("wasm-simd" or "js"), for the passes that ran. */
  readonly kernels?: Readonly<Record<string, "wasm-simd" | "js">>;
  /** Per pass, the units each thread claimed: the calling thread first, then each worker (0: it did not join). */
  readonly unitsByThread?: Readonly<Record<string, readonly number[]>>;
}

export interface StepsInfo {
  readonly count: number;
  /** 0-based index of the first step with a failing tensor, or null when every step conforms. */
  readonly firstDivergentStep: number | null;
}

/** What a checked case found: shared by compare/diff reports and suite entries. */
export interface CaseFindings {
  readonly files: readonly FileInfo[];
  readonly convention: ConventionInfo | null;
  readonly tensors: readonly TensorComparison[];
  readonly batchStatistics: { readonly mean: readonly number[]; readonly variance: readonly number[] } | null;
  readonly steps: StepsInfo | null;
  /**
   * When the reference does not conform: what a quick look says
   * about why (a breakdown's signature, another convention).
   */
  readonly hints: readonly string[];
  readonly timings: Timings;
}

/** The findings of a case or report, field by field (in the order the JSON documents them). */
export function findingsOf(source: CaseFindings): CaseFindings {
  const { files, convention, tensors, batchStatistics, steps, hints, timings } = source;
  return { files, convention, tensors, batchStatistics, steps, hints, timings };
}

/** One checked case: the body of a compare or diff report, and one entry of a suite report. */
export interface CaseReport extends CaseFindings {
  readonly name: string;
  readonly kind: "compare" | "diff";
  readonly expected: "match" | "mismatch";
  /** pass: the outcome is the expected one; fail: it is not; error: the case could not be checked. */
  readonly status: "pass" | "fail" | "error";
  /** Whether the reference agrees within tolerance (null when the case could not be checked). */
  readonly conforms: boolean | null;
  /** conforms, conforms within arithmetic, or does not conform (null when the case could not be checked). */
  readonly verdict: Verdict | null;
  readonly error: string | null;
}

export interface ToolInfo {
  readonly name: "bn-check";
  readonly version: string;
}

/** `compare` and `diff`: one case. */
export interface CompareReport extends CaseFindings {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: ToolInfo;
  readonly command: "compare" | "diff";
  readonly conforms: boolean;
  readonly verdict: Verdict;
  readonly exitCode: ExitCode;
}

export interface SuiteSummary {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  /** Cases whose expected outcome is a mismatch (and that passed by finding one). */
  readonly expectedMismatches: number;
  readonly skipped: number;
}

/** `suite`: many cases. Exit code 1 if any case failed, 2 if any could not be checked. */
/** A model-level finding: what explains many failing layers at once. */
export interface ModelFinding {
  readonly message: string;
  /** The failing layers it explains. */
  readonly layers: readonly string[];
}

/** What `model` checked: where the layers came from and how they were found. */
export interface ModelInfo {
  readonly params: string;
  readonly activations: string;
  readonly refParams: string | null;
  /** The parameter naming the layers were found by ("pytorch", "keras"). */
  readonly naming: string;
  /** BatchNorm layers found in the parameters, and how many --layers selected. */
  readonly layersFound: number;
  readonly layersSelected: number;
  readonly findings: readonly ModelFinding[];
}

/** `suite`, and `model` (one case per BatchNorm layer, with `model` saying where they came from). */
export interface SuiteReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: ToolInfo;
  readonly command: "suite" | "model";
  readonly model?: ModelInfo;
  readonly conforms: boolean;
  readonly exitCode: ExitCode;
  readonly source: string;
  readonly shard: { readonly index: number; readonly count: number } | null;
  readonly filter: string | null;
  readonly summary: SuiteSummary;
  readonly cases: readonly CaseReport[];
  readonly timings: { readonly totalMs: number; readonly threads: number };
}

/** One cell pair of the matrix: how far two presets' results are apart, and why. */
export interface MatrixPair {
  readonly a: string;
  readonly b: string;
  readonly outputMaxAbs: number;
  readonly outputMaxUlp: number;
  readonly runningMeanMaxAbs: number | null;
  readonly runningVarMaxAbs: number | null;
  readonly causes: readonly string[];
}

/** `matrix`: BatchNorm of one input under every preset, compared pairwise. */
export interface MatrixReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: ToolInfo;
  readonly command: "matrix";
  readonly exitCode: ExitCode;
  readonly files: readonly FileInfo[];
  readonly mode: "train" | "eval";
  readonly layout: string;
  readonly channelAxis: number;
  readonly ulpDtype: string;
  readonly presets: readonly {
    readonly name: string;
    readonly label: string;
    readonly epsilon: number;
    readonly momentum: string;
    readonly runningVar: string;
  }[];
  readonly pairs: readonly MatrixPair[];
  readonly timings: { readonly totalMs: number; readonly threads: number };
}

/** `run`: what was written. */
export interface RunReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: ToolInfo;
  readonly command: "run";
  readonly exitCode: ExitCode;
  readonly files: readonly FileInfo[];
  readonly written: readonly FileInfo[];
  readonly convention: ConventionInfo;
  readonly steps: number | null;
  readonly timings: {
    readonly readMs: number;
    readonly statsMs: number;
    readonly normalizeMs: number;
    readonly writeMs: number;
    readonly totalMs: number;
    readonly threads: number;
    readonly kernels?: Readonly<Record<string, "wasm-simd" | "js">>;
    readonly unitsByThread?: Readonly<Record<string, readonly number[]>>;
  };
}

/** `detect`: the conventions that explain a reference, best first. */
export interface DetectReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: ToolInfo;
  readonly command: "detect";
  readonly exitCode: ExitCode;
  readonly files: readonly FileInfo[];
  /** One sentence: what the reference matches and how it differs from the convention given with --framework. */
  readonly diagnosis: string;
  readonly tolerance: { readonly atol: number; readonly rtol: number; readonly source: string };
  readonly best: Candidate;
  readonly equivalent: readonly Candidate[];
  readonly fittedEpsilon: DetectResult["fittedEpsilon"];
  readonly runningStats: DetectResult["runningStats"];
  /** With --grad-output: which statistics the reference gradient used, and what explains it (null without). */
  readonly gradients: GradientFinding | null;
  readonly candidates: readonly Candidate[];
  readonly timings: { readonly totalMs: number };
}

/** One folded tensor (W' or b') against the fold recomputed in float64. */
export interface FoldTensorFigures {
  readonly name: string;
  readonly elements: number;
  /** Elements outside their allowance. */
  readonly failing: number;
  readonly maxAbsError: number;
  /** The largest error/allowance. */
  readonly worstRatio: number;
  readonly worstIndex: readonly number[];
  readonly worstChannel: number;
  readonly actual: number;
  readonly expected: number;
  readonly allowance: number;
}

/** `fold`: one BatchNorm layer of the unfused model and its fold. */
export interface FoldLayerReport {
  readonly name: string;
  readonly status: "pass" | "fail";
  /** The layer the BatchNorm folds into, as the unfused model names it. */
  readonly conv: string | null;
  /** The op it was read as (ONNX's op; for a state_dict, the channel axis the reading takes). */
  readonly op: string | null;
  /** The folded weight's and bias's names in the folded model (null: not found). */
  readonly folded: string | null;
  readonly foldedBias: string | null;
  readonly pairedBy: string | null;
  /** The precision the fold is judged in (the folded file's, or the unfused parameters' when wider-error). */
  readonly dtype: string | null;
  readonly epsilon: number;
  readonly channels: number;
  /** The largest error/allowance over W' and b' (null: nothing to compare). */
  readonly worstRatio: number | null;
  readonly weight: FoldTensorFigures | null;
  readonly bias: FoldTensorFigures | null;
  readonly failingChannels: number;
  readonly cause: string | null;
  readonly causeKind: string | null;
  /**
   * For a failing layer: each channel's expected s = γ/√(var +
   * eps) and the s' the fold applied (W'/W), up to 1024 channels.
   */
  readonly scale: { readonly expected: readonly number[]; readonly implied: readonly number[] } | null;
}

export interface FoldReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: ToolInfo;
  readonly command: "fold";
  readonly exitCode: ExitCode;
  readonly conforms: boolean;
  readonly params: string;
  readonly foldedModel: string;
  readonly summary: {
    readonly layers: number;
    readonly passed: number;
    readonly failed: number;
    /** BatchNorm layers with no convolution or linear layer before them in the unfused model. */
    readonly notFoldable: number;
    /** Convolution and linear layers of the unfused model that no BatchNorm follows: counted, not judged. */
    readonly convsWithoutBatchNorm: number;
    /** BatchNormalization nodes (or BatchNorm entries) still in the folded model. */
    readonly batchNormsLeft: number;
  };
  /** Model-wide findings (one eps behind every failing layer). */
  readonly findings: readonly string[];
  readonly notFoldable: readonly string[];
  readonly cases: readonly FoldLayerReport[];
  readonly timings: {
    readonly readMs: number;
    readonly checkMs: number;
    readonly totalMs: number;
    readonly threads: number;
  };
}

export type Report = CompareReport | SuiteReport | MatrixReport | RunReport | DetectReport | FoldReport;

/** The cases of a case-based report (compare and diff have one). */
export function casesOf(report: CompareReport | SuiteReport): readonly CaseReport[] {
  if ("cases" in report) return report.cases;
  const reference = report.files.find((f) => f.role === "reference")?.path ?? report.command;
  return [
    {
      name: reference,
      kind: report.command,
      expected: "match",
      status: report.conforms ? "pass" : "fail",
      conforms: report.conforms,
      verdict: report.verdict,
      error: null,
      ...findingsOf(report),
    },
  ];
}

/** One line on why a tensor failed: the statistic, its value and the tolerance. */
export function failureSummary(tensor: TensorComparison): string {
  if (tensor.shapeMismatch)
    return `${tensor.name}: shape [${tensor.shape.join(", ")}] vs reference [${tensor.expectedShape.join(", ")}]`;
  const worst = tensor.maxAbsError;
  const where =
    worst === null
      ? ""
      : ` at [${worst.index.join(", ")}] (bn-check ${worst.actual}, ref ${worst.expected}, allowed ${worst.allowed})`;
  const nonFinite = tensor.nonFiniteMismatches > 0 ? `, ${tensor.nonFiniteMismatches} non-finite` : "";
  const flat = `atol ${tensor.tolerance.atol} + rtol ${tensor.tolerance.rtol}·|ref|`;
  const allowance =
    tensor.bound === null
      ? flat
      : `both ${flat} and the ${tensor.bound.computeDtype} error ` +
        `model's bound (max error/bound ${tensor.bound.maxRatio})`;
  return (
    `${tensor.name}: ${tensor.mismatches} / ${tensor.count} elements outside ` +
    `${allowance}${nonFinite}; max abs error ${worst?.absError ?? 0}${where}`
  );
}

/**
 * One line on a tensor that conforms only within its arithmetic:
 * how far outside the flat tolerance, and why that is allowed.
 */
export function arithmeticSummary(tensor: TensorComparison): string {
  const bound = tensor.bound;
  const term = bound?.dominantTerm ? `; largest term: ${bound.dominantTerm}` : "";
  return (
    `${tensor.name}: conforms within ${bound?.computeDtype ?? ""} arithmetic: ` +
    `${tensor.flatMismatches} / ${tensor.count} elements outside atol ${tensor.tolerance.atol} ` +
    `+ rtol ${tensor.tolerance.rtol}·|ref|, max error/bound ${bound?.maxRatio ?? 0}${term}`
  );
}
