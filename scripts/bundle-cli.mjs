#!/usr/bin/env node
// Bundles the CLI (dist/cli/main.js and everything it imports, commander, chalk and cli-table3
// included) into one CommonJS file, dist/cli/bn-check.cjs, started by bin/bn-check.cjs. Node loads
// one file much faster than some sixty (a small `compare` starts about a third faster), and
// CommonJS skips the ES module loader. Packages loaded only on demand (the worker pool, zip, protobuf, schema
// validation, globbing, the progress bar, HDF5, vega and vega-lite for
// HTML reports and --report-dir) stay outside. vega cannot be bundled as CommonJS at all (vega-canvas
// awaits at top level), and its ~0.2 s import would then weigh on every command instead of only the
// ones that draw charts. The library (dist/index.js) is not
// bundled. The worker is bundled too, into dist/parallel/worker.cjs (see below).
import { build } from "esbuild";

await build({
  entryPoints: ["dist/cli/main.js"],
  outfile: "dist/cli/bn-check.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["piscina", "fflate", "protobufjs", "ajv", "cli-progress", "jsfive", "vega", "vega-lite"],
  // The sources locate their files (package.json, the worker entry, the .wasm kernel) from
  // import.meta.url, which CommonJS does not have: give them this file's URL.
  define: { "import.meta.url": "__bnCheckModuleUrl" },
  banner: { js: 'const __bnCheckModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
});

// The worker: its entry and the ES modules it imports (the kernel, the claims) in one CommonJS file,
// loaded with one synchronous read. Unbundled, a worker loads some fifteen ES modules through the
// asynchronous loader, whose file reads queue on libuv's thread pool behind the command's own tensor
// reads: a worker started before a 51 MB read then joined no pass of `compare` on 32x64x56x56.
// Bundled, a worker started before the reads joins the passes after them.
await build({
  entryPoints: ["dist/parallel/worker-entry.cjs"],
  outfile: "dist/parallel/worker.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  define: { "import.meta.url": "__bnCheckModuleUrl" },
  banner: { js: 'const __bnCheckModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
});
