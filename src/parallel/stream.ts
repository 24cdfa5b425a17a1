/**
 * The compare pass with the reference read from its file unit by unit, instead of from memory: each
 * thread reads a unit's reference values into a slot of its own (a few tens of KiB it reuses) and
 * runs the compare kernel on that unit, element i at `slot[i − start of the unit]`. The reference is
 * read once, so it is never held whole: a large compare needs the memory of its input alone, and
 * where fresh memory costs a page fault per page (core/file-copy.ts) the reference's pages are never
 * faulted in. Each unit's result is the one the in-memory pass computes (same kernel, same unit), so
 * reports are the same bits.
 *
 * A unit's reference values must be one run of the file: true of every unit grid but wide
 * channels-last data, whose units hold several rows of part of the channels (`streamsUnits`).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { InputFileError } from "../core/errors.js";
import type { TensorFileSource } from "../core/tensor.js";
import { compareUnits, type CompareArrays } from "../kernel/compare-units.js";
import type { DiffRule } from "../kernel/diff.js";
import { emptyBox, unitBox, type UnitBox, type UnitGrid } from "../kernel/units.js";
import { compareUnitsSimd } from "../kernel/wasm-adapters.js";
import type { PassArrays, PassDefinition } from "./pass-definition.js";

export interface StreamedCompareParams {
  readonly rule: DiffRule;
  readonly source: TensorFileSource;
  /** [next slot]: each thread that runs units takes the next slot of `slots` for its reads. */
  readonly slotCounter: SharedArrayBuffer;
  /** Values a slot holds: the most any unit of the grid has. */
  readonly slotLength: number;
}

/** Whether every unit of `grid` is one run of C-order memory (what streaming needs). */
export function streamsUnits(grid: UnitGrid): boolean {
  const { channels, inner } = grid.geometry;
  return grid.outerChunk === 1 || (grid.channelChunk === channels && grid.innerChunk === inner);
}

/** Values a streamed compare's slot holds for `grid`: one unit's. */
export function slotLengthFor(grid: UnitGrid): number {
  const { outer, channels, inner } = grid.geometry;
  return Math.max(
    1,
    Math.min(outer, grid.outerChunk) * Math.min(channels, grid.channelChunk) * Math.min(inner, grid.innerChunk),
  );
}

/** The slot this thread took for a pass (by the pass's counter), so that its later chunks reuse it. */
const slotsTaken = new WeakMap<SharedArrayBuffer, number>();

function slotOf(params: StreamedCompareParams, slots: Float64Array): Float32Array | Float64Array {
  let slot = slotsTaken.get(params.slotCounter);
  if (slot === undefined) {
    slot = Atomics.add(new Int32Array(params.slotCounter), 0, 1);
    slotsTaken.set(params.slotCounter, slot);
  }
  const itemSize = params.source.dtype === "float64" ? 8 : 4;
  // Slots start on 16-byte boundaries (the SIMD kernel's loads).
  const slotBytes = Math.ceil((params.slotLength * itemSize) / 16) * 16;
  const byteOffset = slots.byteOffset + slot * slotBytes;
  if (byteOffset + slotBytes > slots.byteOffset + slots.byteLength)
    throw new Error(`streamed compare: more threads than reference slots (slot ${slot})`);
  return itemSize === 8
    ? new Float64Array(slots.buffer, byteOffset, params.slotLength)
    : new Float32Array(slots.buffer, byteOffset, params.slotLength);
}

/** The first element of a unit's box and how many follow (one run: `streamsUnits`). */
function runOf(grid: UnitGrid, box: UnitBox): { readonly start: number; readonly length: number } {
  const { channels, inner } = grid.geometry;
  const start = (box.o0 * channels + box.c0) * inner + box.i0;
  const last = ((box.o1 - 1) * channels + (box.c1 - 1)) * inner + box.i1;
  return { start, length: last - start };
}

/**
 * Runs `compareUnit` on units `first`..`end`, each after reading its reference values from the
 * file into this thread's slot.
 * @throws InputFileError when the file ends before a unit's values do (it shrank meanwhile).
 */
function streamUnits<V extends Float32Array | Float64Array>(
  arrays: PassArrays,
  grid: UnitGrid,
  params: StreamedCompareParams,
  first: number,
  end: number,
  compareUnit: (arrays: CompareArrays<V>, unit: number) => void,
): void {
  const slot = slotOf(params, arrays.slots as Float64Array) as V;
  const bytes = new Uint8Array(slot.buffer, slot.byteOffset, slot.byteLength);
  const { path, position } = params.source;
  const itemSize = slot.BYTES_PER_ELEMENT;
  const box = emptyBox();
  const fd = openSync(path, "r");
  try {
    for (let unit = first; unit < end; unit++) {
      const { start, length } = runOf(grid, unitBox(grid, unit, box));
      const wanted = length * itemSize;
      let filled = 0;
      while (filled < wanted) {
        const read = readSync(fd, bytes, filled, wanted - filled, position + start * itemSize + filled);
        if (read === 0)
          throw new InputFileError(path, `changed while being read (ended ${wanted - filled} bytes early)`);
        filled += read;
      }
      compareUnit(
        {
          input: arrays.input as V,
          reference: slot,
          referenceOrigin: start,
          constants: arrays.constants as Float64Array,
          records: arrays.records as Float64Array,
          worst: arrays.worst as Float64Array,
          histograms: arrays.histograms as Float64Array,
        },
        unit,
      );
    }
  } finally {
    closeSync(fd);
  }
}

export function streamedComparePass(
  scratch: PassDefinition<DiffRule>["scratch"],
): PassDefinition<StreamedCompareParams> {
  return {
    given: ["input", "constants", "slots"],
    scratch,
    tensors: ["input"],
    // The SIMD kernel counts float32 ulps between float32 values.
    simd: (_grid, params) => params.rule.ulpDtype === "float32" && params.source.dtype === "float32",
    js: (arrays, grid, params, first, end) =>
      streamUnits(arrays, grid, params, first, end, (unitArrays, unit) =>
        compareUnits(unitArrays, grid, params.rule, unit, unit + 1),
      ),
    wasm: (kernel, arrays, grid, params, first, end) =>
      streamUnits<Float32Array>(arrays, grid, params, first, end, (unitArrays, unit) =>
        compareUnitsSimd(kernel, unitArrays, grid, params.rule, unit, unit + 1),
      ),
  };
}
