import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pool and CLI tests start worker threads and child processes: one test file per core the OS
    // gives this process (availableParallelism follows `taskset`), at most 2. Two files on one core
    // starved vitest's own worker RPC ("Timeout calling onTaskUpdate") although every test passed.
    fileParallelism: true,
    maxWorkers: Math.max(1, Math.min(2, availableParallelism())),
    minWorkers: 1,
    testTimeout: 30_000,
  },
});
