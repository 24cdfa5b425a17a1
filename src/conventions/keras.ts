import { RUNNING_WEIGHTED_DEFAULTS, TRAIN_BATCH_EVAL_RUNNING, type Convention } from "./convention.js";

/**
 * Keras 3 BatchNormalization (every backend), and TF.js tf.layers.batchNormalization, which follows
 * the same rules. Sources (docs/conventions.md §4, §7): keras/src/layers/normalization/
 * batch_normalization.py (axis=-1, momentum=0.99, epsilon=1e-3; moving = moving·momentum +
 * batch·(1−momentum)); keras/src/backend/{tensorflow,torch,jax}/nn.py (`moments`: biased on every backend; no fused
 * op, no eps clamp); tfjs-layers/src/layers/normalization.ts (biased moving variance).
 */
export const keras3 = Object.freeze({
  ...RUNNING_WEIGHTED_DEFAULTS,
  id: "keras3",
  label: "Keras 3 BatchNormalization",
  channelAxis: -1,
  epsilon: 1e-3,
  momentum: 0.99,
  backward: {
    statistics: TRAIN_BATCH_EVAL_RUNNING,
    sources: [
      "keras/src/layers/normalization/batch_normalization.py (moments inside the differentiated call when training)",
      "tfjs-layers/src/layers/normalization.ts",
    ],
  },
  sources: [
    "keras/src/layers/normalization/batch_normalization.py",
    "keras/src/backend/{tensorflow,torch,jax}/nn.py",
    "tfjs-layers/src/layers/normalization.ts",
  ],
  docsUrl: "https://keras.io/api/layers/normalization_layers/batch_normalization/",
} as const satisfies Convention);
