import { RUNNING_WEIGHTED_DEFAULTS, TRAIN_BATCH_EVAL_RUNNING, type Convention } from "./convention.js";

/**
 * tf.keras (Keras 2 / tf-keras) BatchNormalization on TF 2.x, with `fused=None`.
 * Sources (docs/conventions.md §2–3): tf_keras/layers/normalization/batch_normalization.py
 * (axis=-1, momentum=0.99, epsilon=1e-3; fused when rank 4 with axis 1 or 3, or rank 5 with axis
 * 1 or 4; the fused path keeps Bessel's correction in moving_variance, the non-fused path uses
 * tf.nn.moments, biased), tensorflow/python/ops/nn_impl.py (`fused_batch_norm`: min_epsilon =
 * 1.001e-5, eps below it is raised to it), tensorflow/core/kernels/fused_batch_norm_op.cc (Bessel
 * factor n/(n−1) with the denominator forced to 1 when n = 1).
 * No real TensorFlow or Keras 2 runs here: this preset rests on those sources alone.
 */
export const tf = Object.freeze({
  ...RUNNING_WEIGHTED_DEFAULTS,
  id: "tf",
  label: "tf.keras BatchNormalization (Keras 2, TF 2.x)",
  channelAxis: -1,
  epsilon: 1e-3,
  momentum: 0.99,
  variants: [
    {
      id: "fused",
      when: { ranks: [4, 5], channelPositions: ["first", "last"] },
      epsilonFloor: 1.001e-5,
      runningVarCorrection: 1,
      note: "fused kernel: eps raised to at least 1.001e-5, moving variance unbiased (÷(N−1))",
    },
  ],
  backward: {
    statistics: TRAIN_BATCH_EVAL_RUNNING,
    sources: [
      "tensorflow/python/ops/nn_grad.py (_FusedBatchNormGrad: is_training selects the formula; the floored eps is reused)",
    ],
  },
  sources: [
    "tf_keras/layers/normalization/batch_normalization.py",
    "tensorflow/python/ops/nn_impl.py (fused_batch_norm)",
    "tensorflow/core/kernels/fused_batch_norm_op.cc",
  ],
  docsUrl: "https://www.tensorflow.org/api_docs/python/tf/keras/layers/BatchNormalization",
} as const satisfies Convention);

/**
 * tf.nn.moments + tf.nn.batch_normalization (and TF.js tf.moments + tf.batchNorm): stateless,
 * biased batch variance, eps on the variance, statistics broadcast along the last axis.
 * Sources (docs/conventions.md §2, §7): tensorflow/python/ops/nn_impl.py (`moments`, `batch_normalization`:
 * eps is required, no clamp); tfjs-core/src/ops/batchnorm.ts (varianceEpsilon defaults to 0.001,
 * the default used here) and moments.ts (biased).
 */
export const tfNn = Object.freeze({
  ...RUNNING_WEIGHTED_DEFAULTS,
  id: "tf-nn",
  label: "tf.nn.moments + tf.nn.batch_normalization",
  channelAxis: -1,
  epsilon: 1e-3,
  momentum: 0,
  hasRunningStats: false,
  backward: {
    statistics: TRAIN_BATCH_EVAL_RUNNING,
    sources: [
      "tfjs-core/src/gradients/FusedBatchNorm_grad.ts",
      "tensorflow/python/ops/nn_impl.py (moments: the gradient flows through them when they are computed in the differentiated function)",
    ],
  },
  sources: [
    "tensorflow/python/ops/nn_impl.py (moments, batch_normalization)",
    "tfjs-core/src/ops/batchnorm.ts",
    "tfjs-core/src/ops/moments.ts",
  ],
  docsUrl: "https://www.tensorflow.org/api_docs/python/tf/nn/batch_normalization",
} as const satisfies Convention);
