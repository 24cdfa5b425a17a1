/**
 * bn-check as a library. Call `closePool()` when done if you used more than one thread, or let the
 * process end: idle workers do not keep it alive.
 */
export { batchNorm, batchNormGradients, type BatchNormResult, type BatchNormGradients } from "./check/batch-norm.js";
export { checkBatchNorm, type CheckRequest, type CheckTensors, type ConformanceResult } from "./check/check.js";
export type { BatchNormRequest, BatchNormTensors } from "./check/prepare.js";
export { compareTensors, type TensorComparison, type ElementReport, type ChannelReport } from "./check/compare.js";
export {
  resolveTolerance,
  TORCH_DEFAULT_TOLERANCES,
  type Tolerance,
  type ResolvedTolerance,
} from "./check/tolerance.js";
export { conventions, FRAMEWORK_NAMES, type FrameworkName, type Convention } from "./conventions/index.js";
export { resolveConvention, type BatchNormOptions, type BatchNormParams, type Mode } from "./conventions/resolve.js";
export { LAYOUTS, LAYOUT_NAMES, type LayoutName } from "./core/layout.js";
export { readNpy, parseNpyBytes } from "./io/npy/read-npy.js";
export { writeNpy, encodeNpy } from "./io/npy/write-npy.js";
export { tensorFromArray, type Tensor, type FloatDType, type ComputeDType } from "./core/tensor.js";
export { closePool } from "./parallel/pool.js";
export { withTensorArena, TensorArena } from "./core/arena.js";
export { kernelName } from "./parallel/wasm-kernel.js";
export { allocateShared } from "./core/tensor.js";
export { BnCheckError, CheckInputError, InputFileError, UsageError, WorkerFailureError } from "./core/errors.js";
export { checkFold, type FoldOptions } from "./app/fold/fold.js";
export { readOnnxModel, type OnnxModel, type OnnxNode, type OnnxConstant } from "./io/onnx-model.js";
export {
  REPORT_SCHEMA_VERSION,
  type CompareReport,
  type FoldReport,
  type FoldLayerReport,
  type Report,
} from "./app/reports.js";
