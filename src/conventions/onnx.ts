import { RUNNING_WEIGHTED_DEFAULTS, TRAIN_BATCH_EVAL_RUNNING, type Convention } from "./convention.js";

/**
 * ONNX BatchNormalization-15 (the reference implementation and ONNX Runtime's CPU kernel).
 * Sources (docs/conventions.md §5): onnx docs/Operators.md (epsilon=1e-5, momentum=0.9, channel axis 1;
 * running = input·momentum + current·(1−momentum); current_var is the population variance, also
 * inside running_var), onnx/reference/ops/op_batch_normalization.py (ddof=0),
 * onnxruntime/core/providers/cpu/nn/batch_norm.h. epsilon and momentum are FLOAT attributes, float32 in
 * the graph (onnx/onnx.proto, AttributeProto.f), and ONNX Runtime reads them as float
 * (`GetAttrOrDefault<float>`) before computing in the data's type.
 */
export const onnx = Object.freeze({
  ...RUNNING_WEIGHTED_DEFAULTS,
  id: "onnx",
  label: "ONNX BatchNormalization-15",
  channelAxis: 1,
  epsilon: 1e-5,
  momentum: 0.9,
  attributePrecision: "float32",
  backward: {
    statistics: TRAIN_BATCH_EVAL_RUNNING,
    sources: [
      "onnxruntime/orttraining/orttraining/training_ops/cpu/nn/batch_norm_grad.cc (saved mean and inv_std in training)",
    ],
  },
  sources: [
    "onnx/docs/Operators.md (BatchNormalization)",
    "onnx/reference/ops/op_batch_normalization.py",
    "onnxruntime/core/providers/cpu/nn/batch_norm.h",
    "onnx/onnx.proto (AttributeProto: float f, a float32)",
  ],
  docsUrl: "https://onnx.ai/onnx/operators/onnx__BatchNormalization.html",
} as const satisfies Convention);
