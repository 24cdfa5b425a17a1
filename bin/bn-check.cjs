#!/usr/bin/env node
// The launcher. The CLI is one bundled CommonJS file (dist/cli/bn-check.cjs, scripts/bundle-cli.mjs),
// compiled here through vm.Script with V8's code cache: Node 20 has no compile cache of its own
// (module.enableCompileCache is Node 22), and compiling the bundle was the largest part of a small
// command's start-up. The cache sits beside the bundle, one file per Node version and architecture,
// written after a run when it is missing or V8 rejects it (another V8, other flags); where dist/ is
// not writable, or with BN_CHECK_CODE_CACHE=off, the bundle is simply compiled each time.
"use strict";
const { readFileSync, renameSync, unlinkSync, writeFileSync } = require("node:fs");

const argv = process.argv.slice(2);

if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  // `--version` needs nothing but the version.
  process.stdout.write(`${JSON.parse(readFileSync(`${__dirname}/../package.json`, "utf8")).version}\n`);
} else {
  runBundle();
}

function runBundle() {
  const Module = require("node:module");
  const path = require("node:path");
  const vm = require("node:vm");
  const bundle = path.join(__dirname, "..", "dist", "cli", "bn-check.cjs");
  // The bundle is ASCII (esbuild escapes every other character; scripts/bundle-cli.mjs refuses a bundle
  // that is not): read as latin1, it skips UTF-8 decoding, 3-4 ms of every start.
  const source = readFileSync(bundle, "latin1");
  // V8 matches a cache to its source by length alone: the cache is named by the bundle's content
  // (its first line, written by the build), the Node version and the architecture.
  const content = /^\/\/# bn-check-bundle (\w+)/.exec(source)?.[1];
  const useCache = content !== undefined && process.env.BN_CHECK_CODE_CACHE !== "off";
  const cacheFile = `${bundle}.${content}.${process.version}-${process.arch}.v8cache`;
  const cachedData = useCache ? readCache(cacheFile) : undefined;
  // The bundle is already the CommonJS wrapper function (scripts/bundle-cli.mjs): compiled as read.
  const script = new vm.Script(source, { filename: bundle, cachedData });
  // A script compiled by vm has no loader for import() on Node 20: the bundle's on-demand packages
  // (vega, cli-progress) are imported through this module's (src/core/import-package.ts).
  globalThis.__bnCheckImport = (specifier) => import(specifier);
  const bundled = { exports: {} };
  script
    .runInThisContext()
    .call(bundled.exports, bundled.exports, Module.createRequire(bundle), bundled, bundle, path.dirname(bundle));
  bundled.exports.main(argv).then(() => {
    // After the run, so that the functions it compiled are in the cache too.
    if (useCache && (cachedData === undefined || script.cachedDataRejected)) writeCache(cacheFile, script);
  });
}

function readCache(file) {
  try {
    return readFileSync(file);
  } catch {
    return undefined; // No cache yet: this run writes it.
  }
}

/** Written whole and renamed, so that processes started side by side never read half a file. */
function writeCache(file, script) {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, script.createCachedData());
    renameSync(temporary, file);
  } catch {
    try {
      unlinkSync(temporary);
    } catch {
      // Nothing was written (dist/ not writable): the bundle is compiled each time.
    }
  }
}
