/**
 * Why a gradient reference does not conform, when a quick recheck can tell. The most common mistake
 * is the frozen/unfrozen BatchNorm confusion: dx computed with the running statistics as constants
 * (eval) while the forward normalised with batch statistics (train), or the other way round.
 */
import { checkBatchNorm, type CheckRequest, type CheckTensors, type ConformanceResult } from "./check.js";

/** At most one line per finding; none when dx conforms or nothing quick explains it. */
export async function explainGradients(tensors: CheckTensors, request: CheckRequest, result: ConformanceResult): Promise<string[]> {
  const gradInput = result.gradInput;
  if (gradInput === null || gradInput.passed || gradInput.shapeMismatch) return [];
  const batchInForward = result.params.mode === "train";
  // The other statistics: the given running ones (eval) for a train-mode call, the batch's for eval.
  if (batchInForward && (tensors.runningMean == null || tensors.runningVar == null)) return [];
  const recheck = await checkBatchNorm(
    {
      input: tensors.input,
      reference: tensors.reference,
      weight: tensors.weight,
      bias: tensors.bias,
      runningMean: tensors.runningMean,
      runningVar: tensors.runningVar,
      gradOutput: tensors.gradOutput,
      referenceGradInput: tensors.referenceGradInput,
    },
    { ...request, mode: batchInForward ? "eval" : "train" },
  );
  if (recheck.gradInput?.passed !== true) return [];
  return [
    batchInForward
      ? "grad_input treats the running statistics as constants, as eval mode does, but the forward used batch statistics: the gradient must flow through the batch mean and variance (the frozen/unfrozen BatchNorm confusion)"
      : "grad_input flows through the batch mean and variance, as train mode does, but the forward used the running statistics: in eval mode they are constants (the frozen/unfrozen BatchNorm confusion)",
  ];
}
