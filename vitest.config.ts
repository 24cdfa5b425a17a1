import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pool and CLI tests start worker threads and child processes: keep files from oversubscribing 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
  },
});
