#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (built by `npm install` through the `prepare` script), as
// one bundled CommonJS file for a fast start (scripts/bundle-cli.mjs).
"use strict";
require("../dist/cli/bn-check.cjs").main(process.argv.slice(2));
