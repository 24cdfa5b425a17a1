#!/usr/bin/env node
// Bundles the CLI (dist/cli/main.js and everything it imports, commander, chalk and cli-table3
// included) into one file, dist/cli/bn-check.mjs. Node loads one file much faster than some sixty:
// measured here, `bn-check compare` on the 4x3x2x2 fixture starts in ~70 ms bundled against ~105 ms
// unbundled (`node -e 0`: ~50 ms). Packages loaded only on demand (the worker pool, zip, protobuf,
// schema validation, globbing, the progress bar) stay outside. The library (dist/index.js) is not
// bundled, and the worker entry stays a file of its own (dist/parallel/worker-entry.cjs).
import { build } from "esbuild";

await build({
  entryPoints: ["dist/cli/main.js"],
  outfile: "dist/cli/bn-check.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["piscina", "fflate", "protobufjs", "ajv", "picomatch", "cli-progress"],
  // Bundled CommonJS packages (cli-table3) call require(): give the ES module one.
  banner: { js: 'import { createRequire as __bnCheckCreateRequire } from "node:module"; const require = __bnCheckCreateRequire(import.meta.url);' },
  logLevel: "warning",
});
