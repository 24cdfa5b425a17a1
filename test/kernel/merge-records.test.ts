// mergeDiffRecords folds a run of diff records into one in a single loop (the compare pass merges a
// record per channel and unit). It must give what folding them one at a time gives: sums in order,
// each maximum the larger value with the smaller valid index on a tie, the required tolerances by
// Math.max (NaN wins, as it always did).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initDiffRecord, mergeDiffRecords } from "../../src/kernel/diff.js";
import {
  D_COUNT,
  D_MAX_ABS,
  D_MAX_ABS_INDEX,
  D_MAX_BOUND_RATIO,
  D_MAX_BOUND_RATIO_INDEX,
  D_MAX_REL,
  D_MAX_REL_INDEX,
  D_MAX_ULP,
  D_MAX_ULP_INDEX,
  D_REQUIRED_ATOL,
  D_REQUIRED_RTOL,
  DIFF_RECORD_SIZE,
} from "../../src/kernel/abi.js";

const MAXIMA = [
  [D_MAX_ABS, D_MAX_ABS_INDEX],
  [D_MAX_REL, D_MAX_REL_INDEX],
  [D_MAX_ULP, D_MAX_ULP_INDEX],
  [D_MAX_BOUND_RATIO, D_MAX_BOUND_RATIO_INDEX],
];

/** One record folded into another, field by field, written from the rule (not from the loop). */
function foldOne(into: Float64Array, from: Float64Array, at: number): void {
  const maximumFields = new Set(MAXIMA.flat());
  for (let field = 0; field < DIFF_RECORD_SIZE; field++) {
    if (maximumFields.has(field)) continue;
    if (field === D_REQUIRED_ATOL || field === D_REQUIRED_RTOL) into[field] = Math.max(into[field], from[at + field]);
    else into[field] += from[at + field];
  }
  for (const [value, index] of MAXIMA) {
    const v = from[at + value];
    const i = from[at + index];
    const tieWins = v === into[value] && i >= 0 && (into[index] < 0 || i < into[index]);
    if (v > into[value] || tieWins) {
      into[value] = v;
      into[index] = i;
    }
  }
}

describe("mergeDiffRecords", () => {
  it("gives what folding the records one at a time gives, bit for bit", () => {
    const value = fc.oneof(
      fc.constantFrom(0, 1, 2, Number.NaN, Number.POSITIVE_INFINITY),
      fc.double({ min: 0, max: 8, noNaN: true }),
    );
    const index = fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 5 }));
    const record = fc.array(fc.oneof(value, index), { minLength: DIFF_RECORD_SIZE, maxLength: DIFF_RECORD_SIZE });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 9 }), fc.integer({ min: 0, max: 3 }), (records, gap) => {
        // The records `stride` values apart (other units' records between them), after an offset.
        const stride = DIFF_RECORD_SIZE * (1 + gap);
        const from = new Float64Array(3 + Math.max(1, records.length) * stride).fill(-7);
        for (const [k, fields] of records.entries()) from.set(fields, 3 + k * stride);
        const expected = new Float64Array(DIFF_RECORD_SIZE);
        initDiffRecord(expected, 0);
        for (let k = 0; k < records.length; k++) foldOne(expected, from, 3 + k * stride);
        const merged = new Float64Array(2 * DIFF_RECORD_SIZE);
        initDiffRecord(merged, DIFF_RECORD_SIZE);
        mergeDiffRecords(merged, DIFF_RECORD_SIZE, from, 3, records.length, stride);
        expect(Array.from(merged.subarray(DIFF_RECORD_SIZE))).toEqual(Array.from(expected));
        expect(merged[D_COUNT]).toBe(0); // nothing written outside the record
      }),
      { seed: 5, numRuns: 1000 },
    );
  });
});
