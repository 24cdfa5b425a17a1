/**
 * Passes over tensors that stay in their files: each thread reads a unit's values into a slot of its
 * own (a few tens of KiB it reuses) just before the kernel runs on that unit. A tensor read this way
 * is never held whole, so a compare needs little more memory than its per-channel tables, and where
 * fresh memory costs a page fault per page (core/file-copy.ts) its pages are never faulted in: a
 * page-cache read into a warm slot costs about a tenth of that.
 *
 * The kernels do not change. A streamed tensor is given to the pass as a *region* of its arena:
 * `length` elements that are never touched (address space only), then one slot per thread. For a
 * unit whose values are elements [start, start + n) of the tensor, the kernel gets a window: a view
 * of the region that starts `start` elements before the thread's slot, so that element i of the
 * tensor is slot value i − start, and the kernel indexes it as it indexes a tensor in memory (a slot
 * lies `length` elements or more into the region, so a window never starts before it). Each unit's
 * result is the one the in-memory pass computes (same kernel, same unit, same values): reports are
 * the same bits.
 *
 * A unit's values must be one run of the file: true of every unit grid but wide channels-last data,
 * whose units hold several rows of part of the channels (`streamsUnits`).
 */
import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { readInto } from "../core/file-copy.js";
import { allocateInAmbientArena } from "../core/arena.js";
import { InputFileError } from "../core/errors.js";
import { elementCount, unloadedSource, type Tensor, type TensorFileSource } from "../core/tensor.js";
import { emptyBox, unitBox, type UnitBox, type UnitGrid } from "../kernel/units.js";
import type { PassArrays, PassDefinition } from "./pass-definition.js";

type Values = Float32Array | Float64Array;

/** What a streamed pass takes besides its own parameters. */
export interface StreamParams<P> {
  /** The parameters of the pass that runs on each unit. */
  readonly params: P;
  /** The files of the streamed arrays, by the names the pass gives them (their regions are given under those names). */
  readonly sources: Readonly<Record<string, TensorFileSource>>;
  /** Elements of each streamed tensor (where the slots of its region start). */
  readonly length: number;
  /** Elements a slot holds: the most any unit of the grid has (`slotLengthFor`). */
  readonly slotLength: number;
  /** [next slot]: each thread that runs units takes the next slot of every region. */
  readonly slotCounter: SharedArrayBuffer;
}

/** The parameters of a streamed pass: `params` for its kernel, the files of the streamed arrays by name. */
export function streamParams<P>(
  params: P,
  grid: UnitGrid,
  sources: Readonly<Record<string, TensorFileSource>>,
): StreamParams<P> {
  const { outer, channels, inner } = grid.geometry;
  return {
    params,
    sources,
    length: outer * channels * inner,
    slotLength: slotLengthFor(grid),
    slotCounter: new SharedArrayBuffer(4),
  };
}

/** Whether every unit of `grid` is one run of C-order memory (what streaming needs). */
export function streamsUnits(grid: UnitGrid): boolean {
  const { channels, inner } = grid.geometry;
  return grid.outerChunk === 1 || (grid.channelChunk === channels && grid.innerChunk === inner);
}

/** Values a slot holds for `grid`: one unit's. */
export function slotLengthFor(grid: UnitGrid): number {
  const { outer, channels, inner } = grid.geometry;
  return Math.max(
    1,
    Math.min(outer, grid.outerChunk) * Math.min(channels, grid.channelChunk) * Math.min(inner, grid.innerChunk),
  );
}

/** Elements from one slot to the next: a slot rounded up to 64 bytes (cache lines; the SIMD loads). */
function slotStride(slotLength: number, itemSize: number): number {
  return Math.ceil((slotLength * itemSize) / 64) * (64 / itemSize);
}

/**
 * The region a streamed tensor of `length` elements is given to a pass as, for `threads` threads: in
 * the operation's tensor arena when there is one (where the SIMD kernel can read it), else a
 * SharedArrayBuffer of its own. Never zeroed, and its first `length` elements never touched: they cost
 * address space, not memory (nothing reads a slot before it is filled).
 */
export function streamRegion(
  dtype: TensorFileSource["dtype"],
  length: number,
  grid: UnitGrid,
  threads: number,
): Values {
  const type = dtype === "float64" ? "f64" : "f32";
  const itemSize = type === "f64" ? 8 : 4;
  const elements = length + threads * slotStride(slotLengthFor(grid), itemSize);
  const inArena = allocateInAmbientArena(type, elements, false);
  if (inArena !== null) return inArena;
  const buffer = new SharedArrayBuffer(elements * itemSize);
  return type === "f64" ? new Float64Array(buffer) : new Float32Array(buffer);
}

/** A tensor still in its file, as the streamed passes read it. */
export interface FileStream {
  readonly source: TensorFileSource;
  /** The region the streamed passes are given in its place (`streamRegion`). */
  readonly region: Values;
  /** One value, read from the file. */
  valueAt(index: number): number;
}

/**
 * `tensor` as the streamed passes read it, when it is still in its file (a DeferredTensor not read
 * yet) and every unit of `grid` is one run of it (`streamsUnits`); else null (a pass reads it whole).
 */
export function fileStream(tensor: Tensor, grid: UnitGrid, threads: number): FileStream | null {
  const deferred = unloadedSource(tensor);
  if (deferred === null || !streamsUnits(grid)) return null;
  return {
    source: deferred.source,
    region: streamRegion(deferred.source.dtype, elementCount(tensor.shape), grid, threads),
    valueAt: (index) => deferred.valueAt(index),
  };
}

/** The slot this thread took in a pass (by the pass's counter), so that its later chunks reuse it. */
const slotsTaken = new WeakMap<SharedArrayBuffer, number>();

function slotOf(counter: SharedArrayBuffer): number {
  let slot = slotsTaken.get(counter);
  if (slot === undefined) {
    slot = Atomics.add(new Int32Array(counter), 0, 1);
    slotsTaken.set(counter, slot);
  }
  return slot;
}

/** The first element of a unit's box and how many follow (one run: `streamsUnits`). */
function runOf(grid: UnitGrid, box: UnitBox): { readonly start: number; readonly count: number } {
  const { channels, inner } = grid.geometry;
  const start = (box.o0 * channels + box.c0) * inner + box.i0;
  const last = ((box.o1 - 1) * channels + (box.c1 - 1)) * inner + box.i1;
  return { start, count: last - start };
}

/** One streamed array as a thread sees it: its file, its region, and where this thread's slot is. */
interface Stream {
  readonly name: string;
  readonly fd: number;
  readonly source: TensorFileSource;
  readonly region: Values;
  /** Element index of this thread's slot in the region. */
  readonly slot: number;
}

/**
 * Runs `runUnit` on units `first`..`end`, each after reading its values of every streamed array into
 * this thread's slots, with those arrays replaced by windows onto the slots.
 * @throws InputFileError when a file ends before a unit's values do (it shrank meanwhile).
 */
function streamUnits<P>(
  arrays: PassArrays,
  grid: UnitGrid,
  stream: StreamParams<P>,
  first: number,
  end: number,
  runUnit: (windowed: PassArrays, unit: number) => void,
): void {
  const slot = slotOf(stream.slotCounter);
  const streams: Stream[] = [];
  try {
    for (const [name, source] of Object.entries(stream.sources)) {
      const region = arrays[name];
      const at = stream.length + slot * slotStride(stream.slotLength, region.BYTES_PER_ELEMENT);
      if (at + stream.slotLength > region.length)
        throw new Error(`streamed pass: more threads than slots (slot ${slot} of ${name})`);
      streams.push({ name, fd: openRegular(source.path), source, region, slot: at });
    }
    const windowed: Record<string, Values> = { ...arrays };
    const box = emptyBox();
    for (let unit = first; unit < end; unit++) {
      const { start, count } = runOf(grid, unitBox(grid, unit, box));
      for (const { name, fd, source, region, slot: at } of streams) {
        const itemSize = region.BYTES_PER_ELEMENT;
        const bytes = new Uint8Array(region.buffer, region.byteOffset + at * itemSize, count * itemSize);
        const read = readInto(fd, bytes, source.position + start * itemSize);
        if (read < bytes.length)
          throw new InputFileError(source.path, `changed while being read (ended ${bytes.length - read} bytes early)`);
        const windowStart = region.byteOffset + (at - start) * itemSize;
        windowed[name] =
          itemSize === 8
            ? new Float64Array(region.buffer, windowStart, start + count)
            : new Float32Array(region.buffer, windowStart, start + count);
      }
      runUnit(windowed, unit);
    }
  } finally {
    for (const { fd } of streams) closeSync(fd);
  }
}

/**
 * Opens a streamed tensor's file again, as it was when its header was read: a regular file (opened
 * without blocking, so that a FIFO put in its place meanwhile is refused, not waited on).
 */
function openRegular(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new InputFileError(path, `changed while being read (${(error as Error).message})`, { cause: error });
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new InputFileError(path, "changed while being read (no longer a regular file)");
  }
  return fd;
}

/**
 * `pass` with some of its given arrays streamed from their files (`StreamParams.sources`; their
 * regions, from `streamRegion`, are given under their names).
 */
export function streamedPass<P>(pass: PassDefinition<P>): PassDefinition<StreamParams<P>> {
  return {
    given: pass.given,
    scratch: pass.scratch,
    tensors: pass.tensors,
    simd: (grid, stream) => pass.simd(grid, stream.params),
    js: (arrays, grid, stream, first, end) =>
      streamUnits(arrays, grid, stream, first, end, (windowed, unit) =>
        pass.js(windowed, grid, stream.params, unit, unit + 1),
      ),
    wasm: (kernel, arrays, grid, stream, first, end) =>
      streamUnits(arrays, grid, stream, first, end, (windowed, unit) =>
        pass.wasm(kernel, windowed, grid, stream.params, unit, unit + 1),
      ),
  };
}
