import { TRAIN_BATCH_EVAL_RUNNING, type Convention } from "./convention.js";

/**
 * PyTorch nn.BatchNorm1d/2d/3d and F.batch_norm.
 * Sources (docs/conventions.md §1): torch/nn/modules/batchnorm.py (`_BatchNorm.__init__`: eps=1e-5,
 * momentum=0.1; `forward`: momentum=None → factor 1/num_batches_tracked), aten/src/ATen/native/
 * Normalization.cpp (running_mean = momentum·mean + (1−momentum)·running; running_var takes
 * var_sum/(n−1)), torch/nn/functional.py (`_verify_batch_size`: more than 1 value per channel).
 */
export const torch = Object.freeze({
  id: "torch",
  label: "PyTorch nn.BatchNorm / F.batch_norm",
  channelAxis: 1,
  epsilon: 1e-5,
  epsilonFloor: null,
  momentum: 0.1,
  momentumWeights: "batch",
  attributePrecision: "float64",
  cumulativeAverage: true,
  hasRunningStats: true,
  runningVarCorrection: 1,
  singleValuePerChannel: "error",
  variants: [],
  backward: {
    statistics: TRAIN_BATCH_EVAL_RUNNING,
    sources: [
      "aten/src/ATen/native/Normalization.cpp (batch_norm_backward)",
      "torch/csrc/autograd/FunctionsManual.cpp (batchnorm_double_backward)",
    ],
  },
  sources: ["torch/nn/modules/batchnorm.py", "aten/src/ATen/native/Normalization.cpp", "torch/nn/functional.py"],
  docsUrl: "https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html",
} as const satisfies Convention);
