/**
 * Tensor arenas: shared WebAssembly memories that tensors are allocated in, so that the WebAssembly
 * SIMD kernel (src/kernel/bn-kernel.wat) works on them where they are, in every worker, without a
 * copy. An arena's memory is a SharedArrayBuffer like any other: typed arrays over it, workers and
 * the JavaScript kernel see no difference.
 *
 * One arena serves one operation (a CLI command, one case of a suite): `withTensorArena` makes it
 * the ambient arena of everything that operation allocates (`allocateShared` consults it through
 * AsyncLocalStorage), and dropping the operation drops the memory. Allocation bumps a pointer: the
 * tensors of one operation live as long as it does, and a bump allocator cannot fragment or free
 * too early. A WebAssembly memory holds at most 4 GiB; what does not fit (or a machine that cannot
 * reserve the address space) gets a plain SharedArrayBuffer, and the passes over it run the
 * JavaScript kernel, which computes the same bits.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const PAGE_BYTES = 65_536;
/** 4 GiB: the most a 32-bit WebAssembly memory can address. */
const MAX_PAGES = 65_536;
/** Allocations start on cache-line boundaries (SIMD loads need 16 bytes; 64 avoids false sharing). */
const ALIGNMENT = 64;

/**
 * An arena's shared `WebAssembly.Memory`, typed by what bn-check uses of it, so that the package's
 * type declarations do not depend on the WebAssembly lib (TypeScript ships it with the DOM lib only,
 * and @types/node 20 has none).
 */
export interface SharedWasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(delta: number): number;
}

const arenaOfBuffer = new WeakMap<SharedArrayBuffer, TensorArena>();

/**
 * Tensors below this many elements are not put in an arena (`allocateShared` gives them a buffer of
 * their own): the SIMD kernel gains nothing on them, and a command on small tensors then never
 * reserves a WebAssembly memory nor compiles the kernel.
 */
export const ARENA_MIN_ELEMENTS = 4096;

export class TensorArena {
  /** null until the first allocation; also null when the memory could not be reserved. */
  private memoryObject: SharedWasmMemory | null = null;
  private unavailable = false;
  private top = 0;
  /** The highest `top` so far: bytes below it may hold data of a released allocation. */
  private highWater = 0;

  /** The arena's shared memory (what workers instantiate the kernel with), once it exists. */
  get memory(): SharedWasmMemory | null {
    return this.memoryObject;
  }

  /**
   * Takes back every allocation (for the next operation that reuses this arena): the memory stays
   * reserved and its pages committed, so the next operation's tensors land on pages already
   * touched instead of faulting fresh ones in. Only for an operation whose tensors are all gone.
   */
  reset(): void {
    this.top = 0;
  }

  /** Bytes handed out so far. */
  get usedBytes(): number {
    return this.top;
  }

  /**
   * A Float32Array or Float64Array of `length` zeros in the arena (with `zeroed` false: whatever a
   * released allocation left there, for a caller that overwrites every element), or null when it
   * does not fit.
   */
  allocate(type: "f32" | "f64", length: number, zeroed = true): Float32Array | Float64Array | null {
    const bytes = length * (type === "f64" ? 8 : 4);
    const start = Math.ceil(this.top / ALIGNMENT) * ALIGNMENT;
    const end = start + bytes;
    const memory = this.reserve(end);
    if (memory === null) return null;
    const buffer = memory.buffer as unknown as SharedArrayBuffer;
    // Memory past the high-water mark is still zero (fresh pages); a released region is not.
    if (zeroed && start < this.highWater) new Uint8Array(buffer, start, Math.min(end, this.highWater) - start).fill(0);
    this.top = end;
    this.highWater = Math.max(this.highWater, end);
    arenaOfBuffer.set(buffer, this);
    return type === "f64" ? new Float64Array(buffer, start, length) : new Float32Array(buffer, start, length);
  }

  /**
   * Gives back the most recent allocation (per-pass scratch such as per-unit partials), so that a
   * caller that runs pass after pass does not grow the arena each time. Anything else is kept: a
   * bump allocator can only take back its top.
   */
  release(values: ArrayBufferView): void {
    if (arenaOf(values) === this && values.byteOffset + values.byteLength === this.top) this.top = values.byteOffset;
  }

  /** Where the next allocation goes, for `rewind`. */
  mark(): number {
    return this.top;
  }

  /**
   * Takes back every allocation made since `mark()` returned `mark` (a check run only for its
   * verdict, such as a hint's alternative convention), so that the next ones reuse that memory
   * instead of growing the arena. Only when none of those allocations is used any more.
   */
  rewind(mark: number): void {
    if (mark <= this.top) this.top = mark;
  }

  /** The memory, grown to at least `bytes`; null when that is more than an arena can hold. */
  private reserve(bytes: number): SharedWasmMemory | null {
    const pages = Math.ceil(bytes / PAGE_BYTES);
    if (this.unavailable || pages > MAX_PAGES) return null;
    if (this.memoryObject === null) {
      try {
        this.memoryObject = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
      } catch {
        // No room for the reservation (a ulimit -v, a 32-bit host): plain SharedArrayBuffers.
        this.unavailable = true;
        return null;
      }
      return this.memoryObject;
    }
    const current = this.memoryObject.buffer.byteLength / PAGE_BYTES;
    if (pages > current) {
      // Growing a shared memory interrupts every thread that uses it: grow by at least an eighth
      // (pages are only committed when touched, so the slack costs address space, not memory).
      const target = Math.min(MAX_PAGES, Math.max(pages, current + Math.ceil(current / 8)));
      try {
        this.memoryObject.grow(target - current);
      } catch {
        return null;
      }
    }
    return this.memoryObject;
  }
}

/** The arena a typed array lives in, if any. */
export function arenaOf(values: ArrayBufferView): TensorArena | null {
  return values.buffer instanceof SharedArrayBuffer ? (arenaOfBuffer.get(values.buffer) ?? null) : null;
}

/** The one arena all of these arrays live in, or null when they are not all in the same arena. */
export function commonArena(...arrays: readonly ArrayBufferView[]): TensorArena | null {
  const first = arrays.length > 0 ? arenaOf(arrays[0]) : null;
  if (first === null) return null;
  for (const values of arrays) if (arenaOf(values) !== first) return null;
  return first;
}

const ambient = new AsyncLocalStorage<TensorArena>();

/** The arena of the operation running now (see `withTensorArena`), or null outside one. */
export function ambientArena(): TensorArena | null {
  return ambient.getStore() ?? null;
}

/**
 * A tensor of `length` zeros in the arena of the operation running now (see `withTensorArena`), or
 * null: outside an operation, under ARENA_MIN_ELEMENTS, or when it does not fit.
 */
export function allocateInAmbientArena(
  type: "f32" | "f64",
  length: number,
  zeroed = true,
): Float32Array | Float64Array | null {
  return length >= ARENA_MIN_ELEMENTS ? (ambient.getStore()?.allocate(type, length, zeroed) ?? null) : null;
}

/**
 * Runs `operation` with a fresh arena as the ambient one: tensors it reads or allocates through
 * `allocateShared` live in shared WebAssembly memory, where the SIMD kernel works on them.
 */
export function withTensorArena<T>(operation: () => T): T {
  return ambient.run(new TensorArena(), operation);
}

/**
 * `operation` as a function that runs each call in a tensor arena of its own (a command, a suite
 * case): its tensors go when the call is done.
 */
export function inOwnArena<A extends unknown[], R>(operation: (...args: A) => R): (...args: A) => R {
  return (...args) => withTensorArena(() => operation(...args));
}

/**
 * Like `inOwnArena` for an operation run many times one after the other (suite and model cases):
 * a call reuses the arena of a finished call instead of a new one. A fresh arena's pages fault in
 * on first touch and each worker instantiates the kernel over each new memory; on a model's 34
 * layers that was a sixth of the run. The operation must return no tensor (its result must not
 * refer to arena memory): the next call overwrites it. Concurrent calls get arenas of their own.
 */
export function inReusedArena<A extends unknown[], R>(
  operation: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  const idle: TensorArena[] = [];
  return async (...args) => {
    const arena = idle.pop() ?? new TensorArena();
    arena.reset();
    try {
      return await ambient.run(arena, () => operation(...args));
    } finally {
      idle.push(arena);
    }
  };
}
