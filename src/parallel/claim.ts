/**
 * Work sharing by claims: the units of a pass are cut into fixed chunks, and every thread that takes
 * part (the workers and the calling thread) claims the next chunk from one shared counter until none
 * is left. Fast threads take more chunks, a thread that was descheduled takes fewer, and a pool that
 * is still starting leaves the work to the calling thread (which then need not wait for it: a worker
 * that had not joined the pass when the last chunk was claimed has nothing to do in it). Which thread computes a unit
 * never changes the unit's result, so results do not depend on who claimed what.
 */

/** The shared counters ([next unit, workers joined]) and the chunk size, as they travel to the workers. */
export interface UnitClaims {
  readonly counter: SharedArrayBuffer;
  readonly chunkUnits: number;
  readonly unitCount: number;
}

export function newUnitClaims(unitCount: number, threads: number, chunksPerThread: number): UnitClaims {
  return {
    counter: new SharedArrayBuffer(8),
    chunkUnits: Math.max(1, Math.ceil(unitCount / (threads * chunksPerThread))),
    unitCount,
  };
}

/** A worker announces that it takes part in the pass (before it claims anything). */
export function joinClaims(claims: UnitClaims): void {
  Atomics.add(new Int32Array(claims.counter), 1, 1);
}

/** How many workers joined the pass so far. */
export function joinedWorkers(claims: UnitClaims): number {
  return Atomics.load(new Int32Array(claims.counter), 1);
}

/** Runs `run` on chunks claimed from `claims` until every unit is claimed; returns the units run here. */
export function runClaimedChunks(claims: UnitClaims, run: (firstUnit: number, endUnit: number) => void): number {
  const counter = new Int32Array(claims.counter);
  let done = 0;
  for (;;) {
    const first = Atomics.add(counter, 0, claims.chunkUnits);
    if (first >= claims.unitCount) return done;
    const end = Math.min(claims.unitCount, first + claims.chunkUnits);
    run(first, end);
    done += end - first;
  }
}

/**
 * `runClaimedChunks` for the calling thread of a pooled pass: while fewer than `workers` workers have
 * joined, it lets the event loop run between chunks. A worker that finishes starting during the pass
 * is handed its task by the pool on this thread's event loop; without these turns it would get it
 * only after this thread had claimed every unit, and never join (once all have joined, no more turns).
 */
export async function runClaimedChunksYielding(
  claims: UnitClaims,
  workers: number,
  run: (firstUnit: number, endUnit: number) => void,
): Promise<number> {
  const counter = new Int32Array(claims.counter);
  let done = 0;
  for (;;) {
    if (Atomics.load(counter, 1) < workers) await new Promise((resolve) => setImmediate(resolve));
    const first = Atomics.add(counter, 0, claims.chunkUnits);
    if (first >= claims.unitCount) return done;
    const end = Math.min(claims.unitCount, first + claims.chunkUnits);
    run(first, end);
    done += end - first;
  }
}
