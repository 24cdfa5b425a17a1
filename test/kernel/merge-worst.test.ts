// mergeWorst keeps the WORST_KEPT worst entries of every unit's list, in (excess descending, index
// ascending) order: the same entries as sorting all of them, which is what it replaced.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initWorst, insertWorst, mergeWorst } from "../../src/kernel/diff.js";
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
    // Each unit's list as the kernels leave it: the values a unit offered, kept by insertWorst (so
    // by decreasing excess, ties in the order offered, which need not be by index), empty slots last.
    const unit = fc.array(fc.tuple(excess, fc.nat({ max: 1 << 20 })), { maxLength: 2 * WORST_KEPT });
    fc.assert(
      fc.property(fc.array(unit, { minLength: 1, maxLength: 12 }), (units) => {
        const lists = new Float64Array(units.length * WORST_KEPT * 2);
        const used = new Set<number>();
        units.forEach((offers, list) => {
          initWorst(lists, list * WORST_KEPT * 2);
          for (const [value, index] of offers) {
            // An element is offered once, by one unit.
            if (used.has(index)) continue;
            used.add(index);
            if (value > lists[list * WORST_KEPT * 2 + 2 * (WORST_KEPT - 1)])
              insertWorst(lists, list * WORST_KEPT * 2, value, index);
          }
        });
        expect(mergeWorst(lists, units.length)).toEqual(bySorting(lists, units.length));
      }),
      { seed: 23, numRuns: 1000 },
    );
  });
});
