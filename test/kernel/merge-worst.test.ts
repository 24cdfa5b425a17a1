// mergeWorst keeps the WORST_KEPT worst entries of every unit's list, in (excess descending, index
// ascending) order: the same entries as sorting all of them, which is what it replaced.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mergeWorst } from "../../src/kernel/diff.js";
import { WORST_KEPT } from "../../src/kernel/abi.js";

function bySorting(lists: Float64Array, listCount: number) {
  const entries: { excess: number; index: number }[] = [];
  for (let k = 0; k < listCount * WORST_KEPT; k++)
    if (lists[2 * k + 1] >= 0) entries.push({ excess: lists[2 * k], index: lists[2 * k + 1] });
  entries.sort((a, b) => (a.excess === b.excess ? a.index - b.index : b.excess > a.excess ? 1 : -1));
  return entries.slice(0, WORST_KEPT);
}

describe("mergeWorst", () => {
  it("keeps what sorting every entry keeps, ties and infinities included", () => {
    const excess = fc.oneof(
      fc.constantFrom(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 0, 1, -1),
      fc.double({ noNaN: true, min: -4, max: 4 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(excess, fc.boolean()), { maxLength: 12 * WORST_KEPT }), (raw) => {
        const listCount = Math.ceil(raw.length / WORST_KEPT);
        const lists = new Float64Array(Math.max(1, listCount) * WORST_KEPT * 2).fill(-1);
        // Each element index once (an element is in one unit's list), some slots empty (index −1).
        raw.forEach(([value, empty], k) => {
          lists[2 * k] = value;
          lists[2 * k + 1] = empty ? -1 : 1000 - k;
        });
        expect(mergeWorst(lists, listCount)).toEqual(bySorting(lists, listCount));
      }),
      { seed: 23, numRuns: 500 },
    );
  });
});
