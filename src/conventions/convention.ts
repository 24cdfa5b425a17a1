/**
 * The contract every framework preset fills in. A preset is data: the kernel never sees a framework
 * name, only the canonical parameters `resolveConvention` derives from a record.
 * Facts and sources: docs/conventions.md (summarised from each framework's source and docs).
 */

/** Whose side "momentum" weights in the running-statistics update. */
export type MomentumWeights =
  /** `running ← (1 − m)·running + m·batch` (PyTorch, cuDNN's exponentialAverageFactor). */
  | "batch"
  /** `running ← m·running + (1 − m)·batch` (Keras, ONNX, Flax, TF.js layers). */
  | "running";

/** Which of the rank / channel-axis combinations a variant applies to. */
export interface VariantCondition {
  /** Input ranks the variant applies to. */
  readonly ranks: readonly number[];
  /** Channel positions it applies to: `first` = axis 1, `last` = axis rank − 1. */
  readonly channelPositions: readonly ("first" | "last")[];
}

/** Fields that a variant (e.g. Keras' fused path) may override. */
export interface ConventionNumerics {
  /** Smallest eps the framework uses: a smaller one is silently raised to it (TF fused kernels). */
  readonly epsilonFloor: number | null;
  /** 0: the running variance takes the biased batch variance (÷N); 1: unbiased (÷(N−1)). */
  readonly runningVarCorrection: 0 | 1;
}

export interface ConventionVariant extends Partial<ConventionNumerics> {
  readonly id: string;
  readonly when: VariantCondition;
  readonly note: string;
}

/**
 * Which statistics BatchNorm's gradient flows through in each mode (docs/conventions.md,
 * "Backward"): "batch" — dx goes through the batch mean and variance; "running" — the running
 * statistics are constants, dx = γ/√(rv + ε)·dy.
 */
export interface BackwardConvention {
  readonly statistics: Readonly<Record<"train" | "eval", "batch" | "running">>;
  readonly sources: readonly string[];
}

/** Every preset's gradient: batch statistics in training, the running ones as constants in eval. */
export const TRAIN_BATCH_EVAL_RUNNING = Object.freeze({ train: "batch", eval: "running" } as const);

export interface Convention extends ConventionNumerics {
  readonly id: string;
  readonly label: string;
  /** Default channel axis; negative counts from the end (Keras-style `axis=-1`). */
  readonly channelAxis: number;
  /** Default eps, added to the variance inside the square root. */
  readonly epsilon: number;
  /** Default momentum, in the framework's own meaning. */
  readonly momentum: number;
  readonly momentumWeights: MomentumWeights;
  /**
   * The precision the framework holds eps and momentum in. `float32`: they are float attributes of
   * the graph (ONNX's AttributeProto stores a FLOAT as float32), so eps 1e-5 is computed as
   * float32(1e-5) = 9.99999974738e-6 and momentum 0.8 as 0.800000011920929, even on float64 data:
   * off by 2e-13 in the output and 3e-8 in a running statistic, which float64 tolerances see.
   */
  readonly attributePrecision: "float64" | "float32";
  /** True when `momentum = None` means a cumulative average over `num_batches_tracked` (PyTorch). */
  readonly cumulativeAverage: boolean;
  /** False for stateless APIs (tf.nn.batch_normalization): no running statistics to update. */
  readonly hasRunningStats: boolean;
  /**
   * What the framework does in training when a channel has a single value (N·spatial = 1):
   * `error` (PyTorch raises) or `allowed` (variance 0; a Bessel denominator is clamped to 1).
   */
  readonly singleValuePerChannel: "error" | "allowed";
  /** Numerics that differ by rank and channel position (first matching variant wins). */
  readonly variants: readonly ConventionVariant[];
  /** The statistics the backward pass differentiates through, by mode. */
  readonly backward: BackwardConvention;
  /** Where the values come from. */
  readonly sources: readonly string[];
  readonly docsUrl: string;
}

/**
 * What most frameworks share, so that a preset states only where it differs: momentum weights the
 * old running value, eps and momentum held as float64 (a Python or JavaScript number), no
 * cumulative average, running statistics with the biased variance, no eps floor, one value per
 * channel allowed, no variants (PyTorch differs in most of these: its preset states every field).
 */
export const RUNNING_WEIGHTED_DEFAULTS = {
  epsilonFloor: null,
  momentumWeights: "running",
  attributePrecision: "float64",
  cumulativeAverage: false,
  hasRunningStats: true,
  runningVarCorrection: 0,
  singleValuePerChannel: "allowed",
  variants: [],
} as const satisfies Partial<Convention>;
