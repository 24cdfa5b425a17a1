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
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build as esbuild } from "esbuild";

/**
 * Builds in memory and replaces the file whole (written beside it, then renamed): a CLI started while
 * the package rebuilds (npx packs the project, which runs `prepare`) never reads half a bundle. The
 * first line names the bundle's content, so that the launcher's V8 code cache, which V8 itself
 * matches to a source by length only, is never used for another bundle of the same length.
 */
async function build(options, { wrapped = false } = {}) {
  const result = await esbuild({ ...options, write: false });
  for (const file of result.outputFiles) {
    // bin/bn-check.cjs reads the bundle as latin1 (no UTF-8 decoding at start): it must be ASCII,
    // which esbuild's default charset guarantees by escaping everything else.
    const wide = file.contents.findIndex((byte) => byte > 0x7f);
    if (wide >= 0)
      throw new Error(`bundle-cli: ${file.path} is not ASCII (byte ${wide}); bin/bn-check.cjs reads it as latin1`);
    const temporary = `${file.path}.${process.pid}.tmp`;
    // `wrapped`: the bundle is the CommonJS function itself, so the launcher compiles the file as
    // read; Module.wrap around it would copy the whole source once more at every start (1-2 ms).
    const [open, close] = wrapped ? [`${COMMONJS_WRAPPER}\n`, "\n})"] : ["", ""];
    const code = Buffer.concat([Buffer.from(open), file.contents, Buffer.from(close)]);
    const digest = createHash("sha256").update(code).digest("hex").slice(0, 16);
    writeFileSync(temporary, Buffer.concat([Buffer.from(`//# bn-check-bundle ${digest}\n`), code]));
    renameSync(temporary, file.path);
  }
}

/** Node's CommonJS module wrapper (Module.wrap), whose arguments bin/bn-check.cjs passes. */
const COMMONJS_WRAPPER = "(function (exports, require, module, __filename, __dirname) {";

// commander requires node:child_process at load (for executable subcommands, which bn-check has
// none of), and with it net, dgram and the stream machinery: some milliseconds of every start. The
// bundle gets it on first use instead.
const lazyChildProcess = {
  name: "lazy-child-process",
  setup(plugin) {
    plugin.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes("node_modules/commander") ? { path: "child_process", namespace: "lazy" } : undefined,
    );
    plugin.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: 'module.exports = new Proxy({}, { get: (_, key) => require("node:child_process")[key] });',
      loader: "js",
    }));
  },
};

// Code caches of earlier bundles (bin/bn-check.cjs writes one beside the bundle, named by its content) are never read
// again.
for (const name of existsSync("dist/cli") ? readdirSync("dist/cli") : [])
  if (name.endsWith(".v8cache")) rmSync(join("dist/cli", name), { force: true });

await build(
  {
    entryPoints: ["dist/cli/main.js"],
    outfile: "dist/cli/bn-check.cjs",
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["piscina", "fflate", "protobufjs", "ajv", "cli-progress", "jsfive", "vega", "vega-lite"],
    plugins: [lazyChildProcess],
    // Whitespace and syntax only: a third less to read and compile at every start, and names stay
    // as written (stack traces under --debug name the functions).
    minifyWhitespace: true,
    minifySyntax: true,
    // The sources locate their files (package.json, the worker entry, the .wasm kernel) from
    // import.meta.url, which CommonJS does not have: give them this file's URL.
    define: { "import.meta.url": "__bnCheckModuleUrl" },
    banner: { js: 'const __bnCheckModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    logLevel: "warning",
  },
  { wrapped: true },
);

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

// Piscina, bundled: the pool into dist/parallel/piscina.cjs (parallel/pool.ts requires it) and its
// worker loop into dist/parallel/piscina-worker.cjs. Required from node_modules, piscina is some twenty
// CommonJS files, whose resolution and compilation took 17 ms of the calling thread each time a
// one-shot run started a pool; bundled, 5 ms (most of it node:worker_threads itself). Same package,
// same code: only the path of its worker changes, to the bundled one.
const piscinaWorkerPath = {
  name: "piscina-worker-path",
  setup(plugin) {
    plugin.onLoad({ filter: /piscina[\\/]dist[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const named = "(0, node_path_1.resolve)(__dirname, 'worker.js')";
      if (!source.includes(named))
        throw new Error("bundle-cli: piscina no longer names its worker file as expected (see piscinaWorkerPath)");
      return {
        contents: source.replace(named, "(0, node_path_1.resolve)(__dirname, 'piscina-worker.cjs')"),
        loader: "js",
      };
    });
  },
};

await build({
  entryPoints: ["node_modules/piscina/dist/main.js"],
  outfile: "dist/parallel/piscina.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  plugins: [piscinaWorkerPath],
  logLevel: "warning",
});

await build({
  entryPoints: ["node_modules/piscina/dist/worker.js"],
  outfile: "dist/parallel/piscina-worker.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // Loaded by piscina only for its niceIncrement option, which bn-check does not set.
  external: ["@napi-rs/nice"],
  logLevel: "warning",
});
