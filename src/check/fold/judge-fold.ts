/**
 * One layer's fold judged: the folded weight and bias against the float64 fold of the unfused
 * parameters, element by element, within the error model's bound for the precision the fold ran in.
 * Pure: arrays in, a judgement out, so the cause search can judge alternatives the same way.
 */
import type { ComputeDType } from "../../core/tensor.js";
import {
  vectorMap,
  checkFoldedTensor,
  checkFoldedWeight,
  type FoldNumbers,
  expectedFold,
  type ExpectedFold,
  type FlatTolerance,
  type FoldTensorCheck,
} from "./fold-arithmetic.js";
import type { ChannelReading } from "./fold-model.js";

export type { FoldNumbers };

/** The folded layer's numbers (bias null: the folded layer has none, read as zeros). */
export interface FoldedNumbers {
  readonly weight: ArrayLike<number>;
  readonly bias: ArrayLike<number> | null;
}

export interface FoldJudging {
  readonly precision: ComputeDType;
  readonly flat: FlatTolerance | null;
  readonly strict: boolean;
}

export interface FoldJudgement {
  readonly reading: ChannelReading;
  readonly expected: ExpectedFold;
  readonly weight: FoldTensorCheck;
  readonly bias: FoldTensorCheck;
  readonly conforms: boolean;
  readonly worstRatio: number;
}

export function judgeFold(
  numbers: FoldNumbers,
  folded: FoldedNumbers,
  reading: ChannelReading,
  judging: FoldJudging,
): FoldJudgement {
  const channels = numbers.mean.length;
  const expected = expectedFold(
    { ...numbers, axis: reading.axis, groups: reading.groups, channels },
    judging.precision,
  );
  const weight = checkFoldedWeight(folded.weight, expected, judging.flat, judging.strict);
  const bias = checkFoldedTensor(
    "bias",
    folded.bias ?? new Float64Array(channels),
    expected.bias,
    expected.biasBound,
    vectorMap(channels),
    channels,
    judging.flat,
    judging.strict,
  );
  const worstRatio = Math.max(weight.worstRatio, bias.worstRatio);
  return { reading, expected, weight, bias, conforms: weight.failing === 0 && bias.failing === 0, worstRatio };
}

/** The first reading under which the fold conforms, else the preferred (first) reading's judgement. */
export function judgeReadings(
  numbers: FoldNumbers,
  folded: FoldedNumbers,
  readings: readonly ChannelReading[],
  judging: FoldJudging,
): FoldJudgement {
  let first: FoldJudgement | null = null;
  for (const reading of readings) {
    const judgement = judgeFold(numbers, folded, reading, judging);
    if (judgement.conforms) return judgement;
    first ??= judgement;
  }
  return first as FoldJudgement;
}
